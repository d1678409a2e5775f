/* Placeholder until calibration lands. */
#include <stdio.h>

#include "calib.h"
#include "profile.h"

int cal_calibrate_cmd(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "lensim calibrate: not built yet\n");
    return 2;
}

int cal_profile_load(const char *path, struct cal_profile *out, struct sim_msg *err)
{
    (void)out;
    return sim_msg_set(err, SIM_ENODEV, "%s: profile files are not supported yet", path);
}

int cal_profile_save(const char *path, const struct cal_profile *p, struct sim_msg *err)
{
    (void)p;
    return sim_msg_set(err, SIM_ENODEV, "%s: profile files are not supported yet", path);
}

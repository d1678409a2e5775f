/*
 * calib.h: the `lensim calibrate` command (sweep kernels, fit the latency model, write a
 * profile). See calib/PROFILE.md for the output.
 */
#ifndef LENSIM_CALIB_H
#define LENSIM_CALIB_H

/* `lensim calibrate ...`; argv[0] is "calibrate". Returns a process exit status. */
int cal_calibrate_cmd(int argc, char **argv);

#endif

/*
 * exit.c: the one table from library error codes to the program's exit statuses (see cmds.h).
 * Every command ends through cli_exit_status, so that the same cause gives the same status
 * whichever command met it.
 */
#include "cmds.h"

#include "sim.h"

int cli_exit_status(int rc)
{
    switch (rc) {
    case SIM_OK: return CLI_EXIT_OK;
    case SIM_ECONFIG:
    case SIM_EINPUT:
    case SIM_ENOENT: return CLI_EXIT_USAGE;
    case SIM_EIO: return CLI_EXIT_IO;
    case SIM_ENODEV: return CLI_EXIT_NODEV;
    case SIM_EINTR: return CLI_EXIT_INTERRUPTED;
    /* SIM_ENOMEM, SIM_ECUDA, SIM_ENOSPC, SIM_EFIT, SIM_EINVARIANT and anything new: the run or
     * check itself failed. `lensim run` also exits CLI_EXIT_FAILED when some runs of a sweep
     * could not run and the others did (issue 12: results.csv says which and why). */
    default: return CLI_EXIT_FAILED;
    }
}

/* Ctrl-C for the commands that wait: send (polling a batch) and
 * logs --follow. They install the handler, then check the flag between
 * steps; a request in flight is aborted through the curl progress callback. */
#ifndef WHARFCTL_INTERRUPT_H
#define WHARFCTL_INTERRUPT_H

/* Catch SIGINT from now on: the first one sets the flag, a second one ends
 * the process at once as Ctrl-C normally does. Returns 0 or -errno. */
int interrupt_catch(void);

/* Non-zero once SIGINT arrived after interrupt_catch. */
int interrupt_requested(void);

/* Sleep for milliseconds, returning early when SIGINT arrives. */
void interrupt_sleep_ms(long milliseconds);

#endif

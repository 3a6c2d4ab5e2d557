/* Progress of a batch while wharfctl send waits for it, on stderr.
 *
 * On a terminal: one line redrawn in place with a bar and the counts. Else
 * (a pipe, a file, a CI log): one line per state change, so that logs stay
 * short and readable. */
#ifndef WHARFCTL_PROGRESS_H
#define WHARFCTL_PROGRESS_H

#include <json-c/json.h>
#include <stdio.h>

typedef struct progress {
    FILE *stream;
    int terminal;     /* stream is a terminal: draw the bar */
    char state[32];   /* last state shown */
    char line[256];   /* last bar drawn, to skip identical redraws */
    int line_drawn;   /* the cursor sits at the end of a bar */
} progress;

void progress_start(progress *p, FILE *stream);

/* Show the batch view: redraw the bar, or print a line when the state changed. */
void progress_update(progress *p, const json_object *view);

/* End the bar's line, so that what follows starts on a new one. */
void progress_finish(progress *p);

#endif

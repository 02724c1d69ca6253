/*
 * notify.h -- notices to the ops channel (Slack incoming webhook at
 * SLACK_WEBHOOK_URL; the runbook's #ops). Sent through the loop's HTTP
 * client, so a slow Slack never delays serving; a failure is logged and
 * counted, never retried in a loop. The webhook URL is a secret: it is
 * never logged.
 */
#ifndef MQ_NOTIFY_H
#define MQ_NOTIFY_H

typedef struct mq_host mq_host;

/* Post `text` (UTF-8) if SLACK_WEBHOOK_URL is set in the serving
 * generation's config; otherwise only log it. */
void mq_notify(mq_host *h, const char *text);

#endif

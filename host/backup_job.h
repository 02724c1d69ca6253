/* backup_job.h -- backups taken by the running host (see backup_job.c). */
#ifndef MQ_BACKUP_JOB_H
#define MQ_BACKUP_JOB_H

typedef struct mq_host mq_host;
typedef struct mq_backup_job mq_backup_job;

/* Set up SIGUSR1, the completion event and the daily timer; seed
 * mq_last_backup_timestamp from the newest backup. Returns 0 or -1. */
int mq_backup_jobs_init(mq_host *h);
/* Wait for a running job and free everything. */
void mq_backup_jobs_cleanup(mq_host *h);
/* Start a backup now (or right after the running one). Returns 0 or -1. */
int mq_backup_start(mq_host *h, const char *why);
/* Restore-check backup `name` (under BACKUP_DIR) on a thread; the result
 * lands in its CHECK.json and a failure is posted as a notice. MQ_OK,
 * MQ_EINVAL (not a backup name), MQ_ENOENT, or MQ_ESTATE while a backup or
 * check runs. */
int mq_restore_check_start(mq_host *h, const char *name);
/* 1 while a backup or restore check runs. */
int mq_backup_job_running(mq_host *h);
/* (Re)arm the daily timer from the current generation's BACKUP_AT. */
void mq_backup_schedule(mq_host *h);

#endif

/*
 * cli_report.h -- `mindquiz report ref`: the referral report (the runbook's
 * weekly `npm run report:ref`), computed from the store's NDJSON files.
 *
 * The report reads the files the referral plugin writes (plugins/referral,
 * ref.h describes them) straight from DATA_DIR, line by line, so it works
 * while the host runs: it takes no lock and never writes. A line that is
 * not a JSON object (a torn last line being written, a damaged line) is
 * skipped and counted. Keyed collections keep the latest record per key,
 * as the store does.
 *
 *   ref_codes.ndjson    code -> the referrer's result
 *   events.ndjson       "referral.visit" records: visits (by "ts")
 *   ref_attrib.ndjson   referred results (by "created_ms")
 *   referrals.ndjson    attributed approved orders (by "approved_ms"):
 *                       conversions; refunds; revenue = amounts of those
 *                       not refunded; rewards = those whose reward is
 *                       "granted" (issued and not voided), and their KRW
 *
 * Days are Korean days (UTC+9). The functions below are the report's
 * model, separate from the command so a test can feed it lines.
 */
#ifndef MQ_CLI_REPORT_H
#define MQ_CLI_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct mq_ref_report mq_ref_report;

/* A report over [from_ms, to_ms), ms since the epoch (0: unbounded).
 * NULL on ENOMEM. Free with mq_ref_report_free (NULL-safe). */
mq_ref_report *mq_ref_report_new(int64_t from_ms, int64_t to_ms);
void mq_ref_report_free(mq_ref_report *r);

/* Feed one line (without its newline) of collection `coll`'s file. */
void mq_ref_report_line(mq_ref_report *r, const char *coll, const char *line, size_t len);

/* Feed the four files of `data_dir` (a missing file is an empty one).
 * Returns 0, or -1 with a cause in err (a file that exists but cannot be
 * read). */
int mq_ref_report_load(mq_ref_report *r, const char *data_dir, char *err, size_t errlen);

/* Lines skipped because they were not JSON objects. */
size_t mq_ref_report_skipped(const mq_ref_report *r);

/* Write the report: a readable table (the `top` referrers with the most
 * conversions, then the daily trend and the totals), or with csv set one
 * RFC 4180 table (CRLF) with a header line and the columns
 *   section,day,code,referrer_result,visits,results,conversions,refunds,
 *   revenue_krw,rewards,reward_krw
 * where section is "referrer" (every referrer, in rank order), "day" (every
 * day from the first to the last of the range or of the data, zeros
 * included) or "total" (one line). Returns 0, or -1 on a write error. */
int mq_ref_report_write(mq_ref_report *r, FILE *out, int csv, int top);

/* "YYYY-MM-DD" -> ms at the start of that Korean day. 0, or -1 when
 * malformed. */
int mq_ref_report_day_ms(const char *s, int64_t *ms);

#endif /* MQ_CLI_REPORT_H */

#include "notify.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "host.h"
#include "http_client.h"
#include "log.h"

static void on_posted(const mq_http_response *resp, void *ud)
{
    mq_host *h = ud;
    int ok = resp->error == MQ_OK && resp->status >= 200 && resp->status < 300;
    const char *lv[] = {ok ? "ok" : "failed"};
    mq_metric_add(h->m_notices, lv, 1);
    if (!ok) {
        if (resp->error != MQ_OK)
            mq_log(MQ_L_ERROR, "Slack notice failed: %s", resp->error_text);
        else
            mq_log(MQ_L_ERROR, "Slack notice failed: HTTP %d", resp->status);
    }
}

void mq_notify(mq_host *h, const char *text)
{
    mq_log(MQ_L_INFO, "notice: %s", text);
    const char *url = h->current ? mq_config_get(h->current->cfg, "SLACK_WEBHOOK_URL") : NULL;
    if (!url || !*url)
        return;
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    char line[2048];
    snprintf(line, sizeof line, "[MindQuiz %s] %s", host, text);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string(line));
    size_t len;
    const char *body = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", NULL};
    mq_http_request rq = {.method = "POST", .url = url, .headers = headers, .body = body,
                          .body_len = len, .timeout_ms = 10000};
    if (mq_http_start(h, NULL, &rq, on_posted, h) != MQ_OK) {
        const char *lv[] = {"failed"};
        mq_metric_add(h->m_notices, lv, 1);
        mq_log(MQ_L_ERROR, "Slack notice failed: SLACK_WEBHOOK_URL is not an http(s) URL");
    }
    json_object_put(o);
}

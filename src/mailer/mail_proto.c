/* SPDX-License-Identifier: MIT */
/*
 * Implementation of mailer/mail_proto.h.  Payloads are described by field
 * specs and checked by one helper (payload_parse), so every message type
 * gets the same strictness.  No I/O and no logging here.
 */
#include "mailer/mail_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

/* jansson provides json_decrefp(). */
#define _cleanup_json_ _cleanup_(json_decrefp)

enum field_kind {
        FIELD_STRING,
        FIELD_BOOL,
        FIELD_PID,
        FIELD_PORT,
};

struct field_spec {
        const char *name;
        enum field_kind kind;
        bool required;
        size_t max_len; /* FIELD_STRING: bytes */
};

static const struct field_spec send_fields[] = {
        {"to", FIELD_STRING, true, MAIL_PROTO_TO_MAX},
        {"subject", FIELD_STRING, true, MAIL_PROTO_SUBJECT_MAX},
        {"body", FIELD_STRING, true, MAIL_PROTO_PAYLOAD_MAX},
};

static const struct field_spec result_fields[] = {
        {"ok", FIELD_BOOL, true, 0},
        {"error", FIELD_STRING, false, MAIL_PROTO_ERROR_MAX},
};

static const struct field_spec smtp_carry_fields[] = {
        {"host", FIELD_STRING, true, MAIL_PROTO_HOST_MAX},
        {"port", FIELD_PORT, true, 0},
        {"security", FIELD_STRING, true, MAIL_PROTO_SECURITY_MAX},
        {"username", FIELD_STRING, false, MAIL_PROTO_LOGIN_MAX},
        {"password", FIELD_STRING, false, MAIL_PROTO_SECRET_MAX},
        {"from", FIELD_STRING, false, MAIL_PROTO_TO_MAX},
};

static const struct field_spec stored_fields[] = {
        {"path", FIELD_STRING, true, MAIL_PROTO_PATH_MAX},
};

static const struct field_spec pid_fields[] = {
        {"pid", FIELD_PID, true, 0},
};

const char *mail_msg_type_to_string(uint8_t type)
{
        switch (type) {
        case MAIL_MSG_SEND:
                return "SEND";
        case MAIL_MSG_RESULT:
                return "RESULT";
        case MAIL_MSG_READY:
                return "READY";
        case MAIL_MSG_SPAWN:
                return "SPAWN";
        case MAIL_MSG_CHANNEL:
                return "CHANNEL";
        case MAIL_MSG_SMTP_CARRY:
                return "SMTP_CARRY";
        case MAIL_MSG_SMTP_STORED:
                return "SMTP_STORED";
        }
        return "unknown";
}

static bool type_known(uint8_t type)
{
        return type >= MAIL_MSG_SEND && type <= MAIL_MSG_SMTP_STORED;
}

/* --- encoding ------------------------------------------------------------ */

static void header_write(uint8_t *buf, uint8_t type, uint32_t id, uint32_t payload_len)
{
        uint32_t be;

        memcpy(buf, MAIL_PROTO_MAGIC, 4);
        buf[4] = MAIL_PROTO_VERSION;
        buf[5] = type;
        buf[6] = 0;
        buf[7] = 0;
        be = htonl(id);
        memcpy(buf + 8, &be, 4);
        be = htonl(payload_len);
        memcpy(buf + 12, &be, 4);
}

/* Serialise obj behind a header.  The intermediate text may hold an
 * e-mail body, so it is wiped before it is freed. */
static int frame_from_json(uint8_t type, uint32_t id, const json_t *obj, uint8_t **ret,
                           size_t *ret_len)
{
        size_t len = json_dumpb(obj, NULL, 0, JSON_COMPACT);
        uint8_t *buf;

        if (len == 0)
                return -ENOMEM;
        if (len > MAIL_PROTO_PAYLOAD_MAX)
                return -EMSGSIZE;
        buf = malloc(MAIL_PROTO_HEADER_SIZE + len);
        if (!buf)
                return -ENOMEM;
        if (json_dumpb(obj, (char *)buf + MAIL_PROTO_HEADER_SIZE, len, JSON_COMPACT) != len) {
                sodium_memzero(buf, MAIL_PROTO_HEADER_SIZE + len);
                free(buf);
                return -ENOMEM;
        }
        header_write(buf, type, id, (uint32_t)len);
        *ret = buf;
        *ret_len = MAIL_PROTO_HEADER_SIZE + len;
        return 0;
}

/* json_string() refuses invalid UTF-8; the limit is checked here so an
 * encoder never produces what the decoder would refuse. */
static int set_string(json_t *obj, const char *key, const char *value, size_t max)
{
        json_t *s;

        if (!value || strlen(value) > max)
                return -EINVAL;
        s = json_string(value);
        if (!s)
                return -EINVAL;
        if (json_object_set_new(obj, key, s) < 0)
                return -ENOMEM;
        return 0;
}

int mail_proto_encode_send(uint32_t id, const char *to, const char *subject, const char *body,
                           uint8_t **ret, size_t *ret_len)
{
        _cleanup_json_ json_t *obj = json_object();
        int r;

        if (!obj)
                return -ENOMEM;
        if ((r = set_string(obj, "to", to, MAIL_PROTO_TO_MAX)) < 0 ||
            (r = set_string(obj, "subject", subject, MAIL_PROTO_SUBJECT_MAX)) < 0 ||
            (r = set_string(obj, "body", body, MAIL_PROTO_PAYLOAD_MAX)) < 0)
                return r;
        return frame_from_json(MAIL_MSG_SEND, id, obj, ret, ret_len);
}

int mail_proto_encode_result(uint32_t id, bool ok, const char *error, uint8_t **ret,
                             size_t *ret_len)
{
        _cleanup_json_ json_t *obj = json_object();
        int r;

        if (!obj)
                return -ENOMEM;
        if (json_object_set_new(obj, "ok", json_boolean(ok)) < 0)
                return -ENOMEM;
        if (!ok) {
                r = set_string(obj, "error", error && *error ? error : "mail not sent",
                               MAIL_PROTO_ERROR_MAX);
                if (r < 0)
                        return r;
        }
        return frame_from_json(MAIL_MSG_RESULT, id, obj, ret, ret_len);
}

static int encode_pid(uint8_t type, uint32_t id, pid_t pid, uint8_t **ret, size_t *ret_len)
{
        _cleanup_json_ json_t *obj = json_object();

        if (pid <= 0)
                return -EINVAL;
        if (!obj || json_object_set_new(obj, "pid", json_integer(pid)) < 0)
                return -ENOMEM;
        return frame_from_json(type, id, obj, ret, ret_len);
}

int mail_proto_encode_ready(pid_t pid, uint8_t **ret, size_t *ret_len)
{
        return encode_pid(MAIL_MSG_READY, 0, pid, ret, ret_len);
}

int mail_proto_encode_channel(uint32_t id, pid_t pid, uint8_t **ret, size_t *ret_len)
{
        return encode_pid(MAIL_MSG_CHANNEL, id, pid, ret, ret_len);
}

int mail_proto_encode_spawn(uint32_t id, uint8_t **ret, size_t *ret_len)
{
        _cleanup_json_ json_t *obj = json_object();

        if (!obj)
                return -ENOMEM;
        return frame_from_json(MAIL_MSG_SPAWN, id, obj, ret, ret_len);
}

int mail_proto_encode_smtp_carry(uint32_t id, const struct mail_smtp_carry *s, uint8_t **ret,
                                 size_t *ret_len)
{
        _cleanup_json_ json_t *obj = json_object();
        int r;

        if (!obj)
                return -ENOMEM;
        if (s->port == 0 || s->port > 65535)
                return -EINVAL;
        if ((r = set_string(obj, "host", s->host, MAIL_PROTO_HOST_MAX)) < 0 ||
            (r = set_string(obj, "security", s->security, MAIL_PROTO_SECURITY_MAX)) < 0 ||
            (s->username &&
             (r = set_string(obj, "username", s->username, MAIL_PROTO_LOGIN_MAX)) < 0) ||
            (s->password &&
             (r = set_string(obj, "password", s->password, MAIL_PROTO_SECRET_MAX)) < 0) ||
            (s->from && (r = set_string(obj, "from", s->from, MAIL_PROTO_TO_MAX)) < 0))
                return r;
        if (json_object_set_new(obj, "port", json_integer(s->port)) < 0)
                return -ENOMEM;
        r = frame_from_json(MAIL_MSG_SMTP_CARRY, id, obj, ret, ret_len);
        /* jansson's copy of the password goes with obj. */
        json_t *pw = json_object_get(obj, "password");
        if (pw)
                sodium_memzero((char *)json_string_value(pw), json_string_length(pw));
        return r;
}

int mail_proto_encode_smtp_stored(uint32_t id, const char *path, uint8_t **ret, size_t *ret_len)
{
        _cleanup_json_ json_t *obj = json_object();
        int r;

        if (!obj)
                return -ENOMEM;
        r = set_string(obj, "path", path, MAIL_PROTO_PATH_MAX);
        if (r < 0)
                return r;
        return frame_from_json(MAIL_MSG_SMTP_STORED, id, obj, ret, ret_len);
}

/* --- decoding ------------------------------------------------------------ */

int mail_proto_decode_header(const uint8_t *buf, size_t len, struct mail_header *ret)
{
        uint32_t id, plen;

        if (!buf || len < MAIL_PROTO_HEADER_SIZE)
                return -EBADMSG;
        if (memcmp(buf, MAIL_PROTO_MAGIC, 4) != 0 || buf[6] != 0 || buf[7] != 0)
                return -EBADMSG;
        if (buf[4] != MAIL_PROTO_VERSION)
                return -EPROTONOSUPPORT;
        if (!type_known(buf[5]))
                return -EPROTO;
        memcpy(&id, buf + 8, 4);
        memcpy(&plen, buf + 12, 4);
        plen = ntohl(plen);
        if (plen > MAIL_PROTO_PAYLOAD_MAX)
                return -EMSGSIZE;
        *ret = (struct mail_header){.type = buf[5], .id = ntohl(id), .payload_len = plen};
        return 0;
}

int mail_proto_decode_frame(const uint8_t *buf, size_t len, struct mail_header *ret,
                            const uint8_t **ret_payload)
{
        struct mail_header h;
        int r;

        r = mail_proto_decode_header(buf, len, &h);
        if (r < 0)
                return r;
        if (len != MAIL_PROTO_HEADER_SIZE + (size_t)h.payload_len)
                return -EBADMSG;
        *ret = h;
        *ret_payload = buf + MAIL_PROTO_HEADER_SIZE;
        return 0;
}

static const struct field_spec *spec_find(const struct field_spec *spec, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(spec[i].name, name) == 0)
                        return &spec[i];
        return NULL;
}

static bool field_valid(const struct field_spec *f, json_t *v)
{
        switch (f->kind) {
        case FIELD_STRING:
                /* jansson refuses \u0000 unless told otherwise; the length
                 * comparison keeps that promise explicit. */
                return json_is_string(v) && json_string_length(v) <= f->max_len &&
                       strlen(json_string_value(v)) == json_string_length(v);
        case FIELD_BOOL:
                return json_is_boolean(v);
        case FIELD_PID:
                return json_is_integer(v) && json_integer_value(v) > 0 &&
                       json_integer_value(v) <= INT32_MAX;
        case FIELD_PORT:
                return json_is_integer(v) && json_integer_value(v) > 0 &&
                       json_integer_value(v) <= 65535;
        }
        return false;
}

/*
 * Parse a payload into an object that has exactly the members of spec
 * (optional ones may be missing) with the right types and sizes.  The JSON
 * text must fill the payload exactly: no NUL bytes, no trailing bytes, not
 * even white space.
 */
static int payload_parse(const uint8_t *payload, size_t len, const struct field_spec *spec,
                         size_t n, json_t **ret)
{
        _cleanup_json_ json_t *obj = NULL;
        json_error_t error;
        const char *key;
        json_t *value;

        if (!payload || len == 0 || len > MAIL_PROTO_PAYLOAD_MAX || payload[0] != '{' ||
            memchr(payload, 0, len))
                return -EBADMSG;
        obj = json_loadb((const char *)payload, len,
                         JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK, &error);
        if (!obj || !json_is_object(obj) || (size_t)error.position != len)
                return -EBADMSG;
        json_object_foreach(obj, key, value)
        {
                const struct field_spec *f = spec_find(spec, n, key);
                if (!f || !field_valid(f, value))
                        return -EBADMSG;
        }
        for (size_t i = 0; i < n; i++)
                if (spec[i].required && !json_object_get(obj, spec[i].name))
                        return -EBADMSG;
        *ret = TAKE_PTR(obj);
        return 0;
}

static int dup_member(json_t *obj, const char *key, char **ret)
{
        json_t *v = json_object_get(obj, key);

        if (!v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(json_string_value(v));
        return *ret ? 0 : -ENOMEM;
}

int mail_proto_decode_send(const uint8_t *payload, size_t len, struct mail_send *ret)
{
        _cleanup_json_ json_t *obj = NULL;
        struct mail_send s = {0};
        int r;

        r = payload_parse(payload, len, send_fields, ELEMENTSOF(send_fields), &obj);
        if (r < 0)
                return r;
        if (dup_member(obj, "to", &s.to) < 0 || dup_member(obj, "subject", &s.subject) < 0 ||
            dup_member(obj, "body", &s.body) < 0) {
                mail_send_done(&s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

int mail_proto_decode_result(const uint8_t *payload, size_t len, struct mail_result *ret)
{
        _cleanup_json_ json_t *obj = NULL;
        struct mail_result res = {0};
        int r;

        r = payload_parse(payload, len, result_fields, ELEMENTSOF(result_fields), &obj);
        if (r < 0)
                return r;
        res.ok = json_is_true(json_object_get(obj, "ok"));
        /* A success carries no error; a failure always says why. */
        if (res.ok == (json_object_get(obj, "error") != NULL))
                return -EBADMSG;
        if (dup_member(obj, "error", &res.error) < 0)
                return -ENOMEM;
        *ret = res;
        return 0;
}

int mail_proto_decode_pid(const uint8_t *payload, size_t len, pid_t *ret)
{
        _cleanup_json_ json_t *obj = NULL;
        int r;

        r = payload_parse(payload, len, pid_fields, ELEMENTSOF(pid_fields), &obj);
        if (r < 0)
                return r;
        *ret = (pid_t)json_integer_value(json_object_get(obj, "pid"));
        return 0;
}

int mail_proto_decode_empty(const uint8_t *payload, size_t len)
{
        _cleanup_json_ json_t *obj = NULL;

        return payload_parse(payload, len, NULL, 0, &obj);
}

int mail_proto_decode_smtp_carry(const uint8_t *payload, size_t len, struct mail_smtp_carry *ret)
{
        _cleanup_json_ json_t *obj = NULL;
        struct mail_smtp_carry s = {0};
        int r;

        r = payload_parse(payload, len, smtp_carry_fields, ELEMENTSOF(smtp_carry_fields), &obj);
        if (r < 0)
                return r;
        s.port = (unsigned)json_integer_value(json_object_get(obj, "port"));
        r = dup_member(obj, "host", &s.host);
        if (r >= 0)
                r = dup_member(obj, "security", &s.security);
        if (r >= 0)
                r = dup_member(obj, "username", &s.username);
        if (r >= 0)
                r = dup_member(obj, "password", &s.password);
        if (r >= 0)
                r = dup_member(obj, "from", &s.from);
        json_t *pw = json_object_get(obj, "password");
        if (pw)
                sodium_memzero((char *)json_string_value(pw), json_string_length(pw));
        if (r < 0) {
                mail_smtp_carry_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int mail_proto_decode_smtp_stored(const uint8_t *payload, size_t len, char **ret)
{
        _cleanup_json_ json_t *obj = NULL;
        int r;

        r = payload_parse(payload, len, stored_fields, ELEMENTSOF(stored_fields), &obj);
        if (r < 0)
                return r;
        return dup_member(obj, "path", ret);
}

void mail_smtp_carry_done(struct mail_smtp_carry *s)
{
        if (!s)
                return;
        free(s->host);
        free(s->security);
        free(s->username);
        if (s->password) {
                sodium_memzero(s->password, strlen(s->password));
                free(s->password);
        }
        free(s->from);
        *s = (struct mail_smtp_carry){0};
}

void mail_send_done(struct mail_send *s)
{
        if (!s)
                return;
        free(s->to);
        free(s->subject);
        if (s->body) {
                /* Bodies carry confirmation and reset links. */
                sodium_memzero(s->body, strlen(s->body));
                free(s->body);
        }
        *s = (struct mail_send){0};
}

void mail_result_done(struct mail_result *r)
{
        if (!r)
                return;
        free(r->error);
        *r = (struct mail_result){0};
}

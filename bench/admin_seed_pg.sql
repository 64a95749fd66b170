-- SPDX-License-Identifier: MIT
-- The console benchmark's big server on PostgreSQL, as bench/admin_seed.py
-- writes it into SQLite: 100 000 users, 20 000 devices, 1 000 000
-- operations, 50 000 blobs (rows only), 200 000 audit entries and 2 000
-- sessions, dates relative to now.  Run with psql -v ON_ERROR_STOP=1 on a
-- database the daemon has created (and stopped).  The counting triggers
-- are off while the rows go in (session_replication_role, which needs a
-- superuser): one transaction adding a million rows through them would
-- update the same counter a million times.  The counters are set from
-- the rows at the end, as the schema's migrations set them.  The daemon's
-- CPU time says little here: the queries run in PostgreSQL's processes.
SET session_replication_role = replica;
BEGIN;
CREATE FUNCTION pg_temp.ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
\o /dev/null
SELECT setseed(0.17);
\o

INSERT INTO server_users (id, username, email, password_hash, confirmed, blocked, last_seen,
                          created_at)
SELECT 'u' || lpad(i::text, 6, '0'), 'user' || lpad(i::text, 6, '0'),
       'user' || lpad(i::text, 6, '0') || '@example.test', 'x',
       CASE WHEN i % 10 = 3 THEN 0 ELSE 1 END, CASE WHEN i % 20 = 7 THEN 1 ELSE 0 END,
       CASE WHEN i % 4 <> 0 THEN pg_temp.ts(now() - random() * interval '90 days') END,
       pg_temp.ts(now() - interval '730 days' + i * interval '600 seconds')
  FROM generate_series(0, 99999) AS i;

INSERT INTO server_devices (id, name, api_key, token_hash, token_prefix, token_suffix, user_id,
                            vault_id, client_version, last_ip, last_seen, revoked_at, created_at)
SELECT 'dev_' || lpad(i::text, 24, '0'), 'laptop ' || i, 'key-' || i, lpad(to_hex(i), 64, '0'),
       'vss_ab12', 'cd34', 'u' || lpad((i / 2)::text, 6, '0'), 'vault-' || (i % 3),
       'verstak/0.' || (i % 7), '10.0.0.1',
       pg_temp.ts(now() - random() * interval '30 days'),
       CASE WHEN i % 10 = 9 THEN pg_temp.ts(now() - interval '1 day') END,
       pg_temp.ts(now() - interval '400 days' + i * interval '1000 seconds')
  FROM generate_series(0, 19999) AS i;
INSERT INTO server_user_devices (user_id, device_id)
SELECT 'u' || lpad((i / 2)::text, 6, '0'), 'dev_' || lpad(i::text, 24, '0')
  FROM generate_series(0, 19999) AS i;

-- Operations in push order over 60 days; sequence and pushed_at grow together.
INSERT INTO server_ops (server_sequence, op_id, user_id, vault_id, device_id, entity_type,
                        entity_id, op_type, payload_json, created_at, pushed_at)
SELECT seq, 'op-' || seq, 'u' || lpad((dev / 2)::text, 6, '0'), 'vault-' || (dev % 3),
       'dev_' || lpad(dev::text, 24, '0'), 'note', 'n' || (seq % 5000), 'update',
       '{"title":"x"}', w, w
  FROM (SELECT seq, (random() * 19999)::int AS dev,
               pg_temp.ts(now() - interval '60 days' + seq * interval '60 days' / 1000000) AS w
          FROM generate_series(1, 1000000) AS seq) AS o;

INSERT INTO server_blobs (sha256, size, created_at)
SELECT lpad(to_hex(i), 64, '0'), 1000 + i, pg_temp.ts(now() - i * interval '60 seconds')
  FROM generate_series(0, 49999) AS i;
INSERT INTO server_blob_refs (user_id, vault_id, sha256, size, created_at, last_accessed)
SELECT 'u' || lpad(((i * 7) % 10000)::text, 6, '0'), 'vault-' || (i % 3),
       lpad(to_hex(i % 48000), 64, '0'), 1000 + i % 48000,
       pg_temp.ts(now() - i * interval '60 seconds'), pg_temp.ts(now() - i * interval '30 seconds')
  FROM generate_series(0, 49999) AS i
    ON CONFLICT DO NOTHING;

INSERT INTO server_audit_log (event_type, user_id, device_id, ip, message, created_at)
SELECT (ARRAY['login', 'login_failed', 'logout', 'device_paired', 'device_revoked',
              'device_auth_failed', 'user_registered', 'email_confirmed', 'password_reset',
              'rate_limit_exceeded', 'admin_login', 'admin_user_blocked'])[i % 12 + 1],
       'u' || lpad((random() * 99999)::int::text, 6, '0'),
       CASE WHEN i % 2 = 1 THEN 'dev_' || lpad((random() * 19999)::int::text, 24, '0') END,
       '10.0.0.1', 'seeded',
       pg_temp.ts(now() - interval '90 days' + i * interval '90 days' / 200000)
  FROM generate_series(0, 199999) AS i;

INSERT INTO server_sessions (token_hash, csrf_hash, scope, subject_id, expires_at, created_at,
                             last_seen)
SELECT 's' || i, 'c', 'user', 'u' || lpad(i::text, 6, '0'),
       pg_temp.ts(now() + CASE WHEN i % 2 = 1 THEN interval '1 day' ELSE interval '-1 day' END),
       pg_temp.ts(now() - interval '1 day'), pg_temp.ts(now() - interval '1 day')
  FROM generate_series(0, 1999) AS i;

-- What the triggers would have counted.
UPDATE server_users u SET devices = d.n
  FROM (SELECT user_id, count(*) AS n FROM server_devices GROUP BY user_id) AS d
 WHERE d.user_id = u.id;
UPDATE server_meta m SET value = c.value
  FROM (SELECT 'last_sequence' AS key, max(server_sequence) AS value FROM server_ops
        UNION ALL SELECT 'ops_count', count(*) FROM server_ops
        UNION ALL SELECT 'users', count(*) FROM server_users
        UNION ALL SELECT 'users_blocked', count(*) FROM server_users WHERE blocked <> 0
        UNION ALL SELECT 'users_unconfirmed', count(*) FROM server_users
                   WHERE blocked = 0 AND confirmed = 0
        UNION ALL SELECT 'devices', count(*) FROM server_devices
        UNION ALL SELECT 'devices_revoked', count(*) FROM server_devices
                   WHERE coalesce(revoked_at, '') <> ''
        UNION ALL SELECT 'vaults', count(*) FROM (SELECT DISTINCT user_id, vault_id
                   FROM server_devices WHERE user_id IS NOT NULL AND vault_id IS NOT NULL) AS v
        UNION ALL SELECT 'blobs', count(*) FROM server_blobs
        UNION ALL SELECT 'blob_bytes', coalesce(sum(size), 0) FROM server_blobs
        UNION ALL SELECT 'blob_refs', count(*) FROM server_blob_refs
        UNION ALL SELECT 'blobs_referenced', count(*) FROM
                   (SELECT DISTINCT sha256 FROM server_blob_refs) AS r
        UNION ALL SELECT 'audit_entries', count(*) FROM server_audit_log) AS c
 WHERE m.key = c.key;
COMMIT;
SET session_replication_role = DEFAULT;
-- Statistics, and the visibility map that lets deep pages be skipped in
-- the indexes alone.
VACUUM ANALYZE;

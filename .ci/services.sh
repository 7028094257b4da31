#!/usr/bin/env bash
# Start the local PostgreSQL and MariaDB the connector tests use, if they are down (the machine's own
# commands, from the environment notes). Idempotent; prints what it did.
set -u
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
maria_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
if ! maria_up; then
  if [ -x /usr/sbin/mariadbd ]; then
    echo "services: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  fi
fi
for i in $(seq 1 30); do
  pg_up && maria_up && break
  sleep 1
done
pg_up && echo "services: PostgreSQL up on 127.0.0.1:5432" || echo "services: PostgreSQL NOT reachable on 127.0.0.1:5432"
maria_up && echo "services: MariaDB up on 127.0.0.1:3306" || echo "services: MariaDB NOT reachable on 127.0.0.1:3306"
exit 0

#!/usr/bin/env bash
# postgres.sh: make a local PostgreSQL ready for the tracker's store tests.
#
# Idempotent, for Debian, run as root. It installs the server if it is
# missing, starts the newest cluster (creating "main" if there is none),
# creates the role p2pchat (password p2pchat) and the database p2pchat_test
# owned by it, and prints the connection URL as its last line of stdout:
#
#   export P2PCHAT_TEST_POSTGRES=$(sudo bash scripts/postgres.sh | tail -1)
#
# The server listens on loopback only (Debian's default listen_addresses).
set -euo pipefail

role=p2pchat
password=p2pchat
database=p2pchat_test

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then
  echo "postgres.sh: must run as root (it installs and starts PostgreSQL); try: sudo bash $0" >&2
  exit 3
fi

# runuser needs a directory the postgres user can read, or psql warns.
cd /

install_server() {
  echo "postgres.sh: installing PostgreSQL with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update >&2
  apt-get install -y postgresql >&2
}

if ! command -v pg_lsclusters >/dev/null 2>&1 || ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  install_server
fi

# newest_cluster prints "version name port status" of the newest cluster, if any.
newest_cluster() {
  pg_lsclusters --no-header 2>/dev/null | awk '{print $1, $2, $3, $4}' | sort -V | tail -1
}

cluster=$(newest_cluster)
if [[ -z $cluster ]]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  [[ -n $version ]] || die "no PostgreSQL version under /usr/lib/postgresql"
  echo "postgres.sh: creating cluster $version/main" >&2
  pg_createcluster "$version" main >&2
  cluster=$(newest_cluster)
fi
read -r version name port status <<<"$cluster"

if [[ $status != online ]]; then
  echo "postgres.sh: starting cluster $version/$name" >&2
  pg_ctlcluster "$version" "$name" start >&2
fi

# The cluster may take a moment to accept connections after start.
for _ in $(seq 1 60); do
  if pg_isready -q -h 127.0.0.1 -p "$port"; then
    break
  fi
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$port" || die "cluster $version/$name is not accepting connections on 127.0.0.1:$port"

psql_admin() {
  runuser -u postgres -- psql -p "$port" -X -q -v ON_ERROR_STOP=1 -tA "$@"
}

if [[ -z $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'") ]]; then
  echo "postgres.sh: creating role $role" >&2
  psql_admin -c "CREATE ROLE $role LOGIN PASSWORD '$password'"
else
  # Reset the password so the printed URL is right even if someone changed it.
  psql_admin -c "ALTER ROLE $role LOGIN PASSWORD '$password'"
fi

if [[ -z $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$database'") ]]; then
  echo "postgres.sh: creating database $database" >&2
  psql_admin -c "CREATE DATABASE $database OWNER $role"
fi

echo "postgres://$role:$password@127.0.0.1:$port/$database?sslmode=disable"

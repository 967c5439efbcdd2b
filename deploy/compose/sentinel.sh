#!/bin/sh
# Sentinel rewrites its config: write a fresh one to a writable place, then start.
set -eu
cat >/tmp/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel monitor mymaster redis-1 6379 2
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 60000
sentinel parallel-syncs mymaster 1
CONF
exec redis-sentinel /tmp/sentinel.conf

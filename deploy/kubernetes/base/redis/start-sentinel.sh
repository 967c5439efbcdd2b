#!/bin/sh
# Writes sentinel.conf (Sentinel rewrites it, so it lives on an emptyDir) and starts Sentinel,
# monitoring the primary another sentinel names, else redis-0.
set -eu
DOMAIN="redis-headless.${POD_NAMESPACE}.svc.cluster.local"
MASTER=""
for s in redis-0 redis-1 redis-2; do
  MASTER=$(redis-cli -h "$s.$DOMAIN" -p 26379 SENTINEL get-master-addr-by-name mymaster \
    2>/dev/null | head -n1 || true)
  [ -n "$MASTER" ] && break
done
if [ -z "$MASTER" ]; then MASTER="redis-0.$DOMAIN"; fi
cat >/sentinel/sentinel.conf <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $(hostname).$DOMAIN
sentinel monitor mymaster ${MASTER} 6379 2
sentinel auth-pass mymaster ${REDIS_PASSWORD}
sentinel down-after-milliseconds mymaster 5000
sentinel failover-timeout mymaster 60000
sentinel parallel-syncs mymaster 1
CONF
exec redis-sentinel /sentinel/sentinel.conf

#!/bin/sh
# Starts redis-server as the primary or as a replica of the primary the sentinels name.
# Only redis-0 ever starts as primary, and only when no sentinel knows a primary yet (the
# very first start): a pod that restarts never makes itself primary, with or without data.
set -eu
SELF="$(hostname).redis-headless.${POD_NAMESPACE}.svc.cluster.local"
FIRST="redis-0.redis-headless.${POD_NAMESPACE}.svc.cluster.local"
cp /etc/redis/redis.conf /tmp/redis.conf
{
  echo "replica-announce-ip ${SELF}"
  echo "masterauth ${REDIS_PASSWORD}"
  echo "masteruser default"
} >>/tmp/redis.conf
MASTER=""
for s in redis-0 redis-1 redis-2; do
  MASTER=$(redis-cli -h "$s.redis-headless.${POD_NAMESPACE}.svc.cluster.local" -p 26379 \
    SENTINEL get-master-addr-by-name mymaster 2>/dev/null | head -n1 || true)
  [ -n "$MASTER" ] && break
done
if [ -z "$MASTER" ]; then MASTER="$FIRST"; fi
# When the sentinels name this pod (it restarted before they failed over), it starts as the
# primary with its own AOF from the volume, which is what they expect.
if [ "$MASTER" != "$SELF" ]; then
  echo "replicaof ${MASTER} 6379" >>/tmp/redis.conf
fi
exec redis-server /tmp/redis.conf

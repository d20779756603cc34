"""Python's memcached clients, as dogpile.cache builds them, for python_test.go.

    pyclients.py CLIENT SERVERS ACTION ARG

CLIENT is pymemcache, python-memcached or pylibmc: the client of
dogpile.cache's pymemcache, memcached or pylibmc backend, configured with
url SERVERS (comma-separated) and distributed_lock. ARG is JSON.

    read KEYS    print {key: value or null}, through the client's get_multi
    write ITEMS  set_multi of {key: value}; print {"failed": [keys]}
    lock KEYS    take the backend's lock of each key without waiting; print
                 {key: acquired}; on end of input, release those taken

Values are bytes, carried in JSON as latin-1 strings.
"""
import json
import sys

from dogpile.cache import make_region

BACKENDS = {
    "pymemcache": "dogpile.cache.pymemcache",
    "python-memcached": "dogpile.cache.memcached",
    "pylibmc": "dogpile.cache.pylibmc",
}


def main():
    client, servers, action, arg = sys.argv[1], sys.argv[2].split(","), sys.argv[3], json.loads(sys.argv[4])
    region = make_region().configure(
        BACKENDS[client],
        arguments={"url": servers, "distributed_lock": True, "lock_timeout": 30},
    )
    backend = region.backend
    mc = backend.client
    if action == "read":
        found = mc.get_multi(arg)
        out = {k: (found[k].decode("latin-1") if found.get(k) is not None else None) for k in arg}
    elif action == "write":
        failed = mc.set_multi({k: v.encode("latin-1") for k, v in arg.items()})
        out = {"failed": list(failed or [])}
    elif action == "lock":
        mutexes = {k: backend.get_mutex(k) for k in arg}
        out = {k: bool(m.acquire(False)) for k, m in mutexes.items()}
        print(json.dumps(out), flush=True)
        sys.stdin.read()
        for k, m in mutexes.items():
            if out[k]:
                m.release()
        out = {"released": True}
    else:
        raise SystemExit("unknown action " + action)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

"""A Python dogpile.cache process for the interoperability tests.

    peer.py BACKEND ADDR EXPIRE ACTION [ARGS...]

BACKEND is "redis" or "memcached", ADDR "host:port", EXPIRE the region's
expiration time in seconds. The region uses a JSON serializer, as the Go
side's wire format expects, and a distributed lock with a 5 s timeout.
Each action prints one JSON line.

    set KEY JSON              region.set
    get KEY                   region.get: {"found": bool, "value": ...}
    get_or_create KEY JSON    {"value": ..., "created": bool}
    create_slowly KEY JSON S  get_or_create whose creator takes S seconds,
                              printing {"creating": true} when it starts
    set_pickled KEY JSON      set through a region with dogpile's default
                              (pickle) serializer
    hold_lock KEY S           hold the backend's dogpile lock for KEY for S
                              seconds, printing {"locked": true} once held
    key_is_locked KEY         {"locked": bool} from the backend's lock
    call_cached MANGLER NAMESPACE MODULE NAME JSON
                              call a one-argument function named MODULE:NAME
                              decorated with
                              region.cache_on_arguments(namespace=NAMESPACE),
                              NAMESPACE being JSON (null for none), with the
                              argument JSON decodes to; the function returns
                              {"arg": str(arg), "by": "python"}. MANGLER is
                              "none" or "sha1" (dogpile's sha1_mangle_key).
                              Prints {"keys": [...], "value": ..., "created":
                              bool}, keys being the distinct keys the region
                              was given before mangling.
"""
import json
import sys
import time

from dogpile.cache import make_region
from dogpile.cache.api import NO_VALUE
from dogpile.cache.util import sha1_mangle_key


def configure(backend, addr, expire, serialized=True, key_mangler=None):
    host, port = addr.rsplit(":", 1)
    if backend == "redis":
        name = "dogpile.cache.redis"
        args = {
            "host": host,
            "port": int(port),
            "db": 0,
            "distributed_lock": True,
            "thread_local_lock": False,
            "lock_timeout": 5,
        }
    elif backend == "memcached":
        name = "dogpile.cache.pymemcache"
        args = {"url": [addr], "distributed_lock": True, "lock_timeout": 5}
    else:
        raise SystemExit("unknown backend " + backend)
    kw = {}
    if serialized:
        kw = dict(
            serializer=lambda v: json.dumps(v).encode(),
            deserializer=json.loads,
        )
    if key_mangler is not None:
        kw["key_mangler"] = key_mangler
    region = make_region(**kw)
    region.configure(name, expiration_time=expire, arguments=args)
    return region


def say(obj):
    print(json.dumps(obj), flush=True)


def main(argv):
    backend, addr, expire, action, args = argv[1], argv[2], float(argv[3]), argv[4], argv[5:]
    region = configure(backend, addr, expire)
    if action == "set":
        region.set(args[0], json.loads(args[1]))
        say({"ok": True})
    elif action == "get":
        v = region.get(args[0])
        say({"found": v is not NO_VALUE, "value": None if v is NO_VALUE else v})
    elif action == "get_or_create":
        created = []

        def creator():
            created.append(True)
            return json.loads(args[1])

        v = region.get_or_create(args[0], creator)
        say({"value": v, "created": bool(created)})
    elif action == "create_slowly":
        def creator():
            say({"creating": True})
            time.sleep(float(args[2]))
            return json.loads(args[1])

        say({"value": region.get_or_create(args[0], creator)})
    elif action == "set_pickled":
        configure(backend, addr, expire, serialized=False).set(args[0], json.loads(args[1]))
        say({"ok": True})
    elif action == "hold_lock":
        mutex = region.backend.get_mutex(args[0])
        mutex.acquire()
        say({"locked": True})
        time.sleep(float(args[1]))
        mutex.release()
        say({"released": True})
    elif action == "key_is_locked":
        mutex = region.backend.get_mutex(args[0])
        got = mutex.acquire(False)
        if got:
            mutex.release()
        say({"locked": not got})
    elif action == "call_cached":
        mangler, namespace, module, name, arg = args
        mangle = {"none": lambda k: k, "sha1": sha1_mangle_key}[mangler]
        seen = []

        def recording(key):
            if key not in seen:
                seen.append(key)
            return mangle(key)

        cached_region = configure(backend, addr, expire, key_mangler=recording)
        created = []

        def load_user(arg):
            created.append(True)
            return {"arg": str(arg), "by": "python"}

        load_user.__module__ = module
        load_user.__name__ = name
        decorate = cached_region.cache_on_arguments(namespace=json.loads(namespace))
        value = decorate(load_user)(json.loads(arg))
        say({"keys": seen, "value": value, "created": bool(created)})
    else:
        raise SystemExit("unknown action " + action)


if __name__ == "__main__":
    main(sys.argv)

package redis

import (
	goredis "github.com/redis/go-redis/v9"

	"github.com/dogpilego/dogpile/dogpile/driver"
)

// The backend names this package registers, dogpile.cache's own.
const (
	// Name is the standalone Redis backend.
	Name = "dogpile.cache.redis"
	// SentinelName is Redis behind Redis Sentinel.
	SentinelName = "dogpile.cache.redis_sentinel"
	// ClusterName is Redis Cluster.
	ClusterName = "dogpile.cache.redis_cluster"
	// ValkeyName is Name for Valkey servers, whose server-side TTL argument
	// is valkey_expiration_time.
	ValkeyName = "dogpile.cache.valkey"
	// ValkeySentinelName is SentinelName for Valkey servers.
	ValkeySentinelName = "dogpile.cache.valkey_sentinel"
	// ValkeyClusterName is ClusterName for Valkey servers.
	ValkeyClusterName = "dogpile.cache.valkey_cluster"
)

// topology is how the backend reaches its servers.
type topology uint8

const (
	standalone topology = iota
	sentinel
	cluster
)

// flavor is what a registered name stands for.
type flavor struct {
	name     string
	topology topology
	ttlArg   string // the server-side TTL argument's name
}

var flavors = []flavor{
	{Name, standalone, "redis_expiration_time"},
	{SentinelName, sentinel, "redis_expiration_time"},
	{ClusterName, cluster, "redis_expiration_time"},
	{ValkeyName, standalone, "valkey_expiration_time"},
	{ValkeySentinelName, sentinel, "valkey_expiration_time"},
	{ValkeyClusterName, cluster, "valkey_expiration_time"},
}

func init() {
	for _, f := range flavors {
		driver.Register(f.name, func(args driver.Arguments) (driver.Backend, error) {
			b, err := fromArguments(f, args)
			if err != nil {
				return nil, err // a nil interface, not a nil *Backend
			}
			return b, nil
		})
	}
}

// fromArguments is the factory of f: it reads args, builds the go-redis
// client they describe (unless they give one) and the backend on it,
// which owns and closes the client it built.
func fromArguments(f flavor, args driver.Arguments) (*Backend, error) {
	cfg, err := parseArguments(f, args)
	if err != nil {
		return nil, err
	}
	client, owned := cfg.client, cfg.client == nil
	switch {
	case !owned:
	case cfg.cluster != nil:
		client = goredis.NewClusterClient(cfg.cluster)
	case cfg.failover != nil:
		client = goredis.NewFailoverClient(cfg.failover)
	default:
		if cfg.near != nil {
			cfg.opts.NearCache = newNearCache(*cfg.near)
			cfg.options.ClientSideCache = cfg.opts.NearCache
			cfg.options.ClientSideCacheConfig = &goredis.ClientSideCacheConfig{DrainInterval: NearCacheDrainInterval}
		}
		client = goredis.NewClient(cfg.options)
	}
	b, err := newBackend(client, cfg.opts)
	if err != nil {
		if owned {
			_ = client.Close()
		}
		return nil, err
	}
	b.owned = owned
	if cfg.nearOff != "" {
		b.fallBack(cfg.nearOff)
	}
	return b, nil
}

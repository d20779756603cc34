package redis

import "github.com/dogpilego/dogpile/dogpile"

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

var flavors = map[string]flavor{
	Name:               {Name, standalone, "redis_expiration_time"},
	SentinelName:       {SentinelName, sentinel, "redis_expiration_time"},
	ClusterName:        {ClusterName, cluster, "redis_expiration_time"},
	ValkeyName:         {ValkeyName, standalone, "valkey_expiration_time"},
	ValkeySentinelName: {ValkeySentinelName, sentinel, "valkey_expiration_time"},
	ValkeyClusterName:  {ValkeyClusterName, cluster, "valkey_expiration_time"},
}

func init() {
	for name := range flavors {
		dogpile.Register(name, func(args dogpile.Arguments) (dogpile.Backend, error) {
			b, err := Open(name, args)
			if err != nil {
				return nil, err // a nil interface, not a nil *Backend
			}
			return b, nil
		})
	}
}

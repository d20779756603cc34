package redis

import "strings"

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// HashSlot returns the Redis Cluster hash slot of key: CRC16 (XMODEM) of
// the key, or of its hash tag (the text between the first "{" and the
// next "}", when not empty), modulo 16384. Keys of one slot can share a
// multi-key command on a cluster; give related keys a common hash tag
// ("{user:7}:profile", "{user:7}:prefs") to fetch them with one MGET.
func HashSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key)) % slotCount
}

// groupBySlot returns the positions of keys grouped by hash slot, groups in
// the order of their first key, positions in order within a group.
func groupBySlot(keys []string) [][]int {
	var out [][]int
	group := make(map[int]int, len(keys)) // slot → index in out
	for i, k := range keys {
		s := HashSlot(k)
		g, ok := group[s]
		if !ok {
			g = len(out)
			group[s] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the hash
// of Redis Cluster.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

module github.com/dogpilego/dogpile/benchmarks

go 1.26.0

require (
	github.com/dogpilego/dogpile v0.0.0
	github.com/maypok86/otter/v2 v2.4.0
)

replace github.com/dogpilego/dogpile => ../

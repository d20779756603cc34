module github.com/dogpilego/dogpile

go 1.26

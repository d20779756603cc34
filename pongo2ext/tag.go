package pongo2ext

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flosch/pongo2/v6"

	"github.com/dogpilego/dogpile/dogpile"
	"github.com/dogpilego/dogpile/tmplcache"
)

// TagName is the name the cached tag is registered under; its end tag is
// "end" + TagName.
const TagName = "cached"

func init() {
	if err := pongo2.RegisterTag(TagName, parseCached); err != nil {
		panic("pongo2ext: " + err.Error())
	}
}

// options are the tag's option names, in the order the documentation
// lists them.
var options = []string{"region", "expires", "key", "if", "unless", "digest"}

// parseCached parses
//
//	{% cached "name" region="r" expires=300 key=expr if=expr unless=expr digest=false vary... %}
//	...
//	{% endcached %}
func parseCached(doc *pongo2.Parser, start *pongo2.Token, args *pongo2.Parser) (pongo2.INodeTag, *pongo2.Error) {
	n := &cachedNode{start: start, template: start.Filename, digestOn: true}

	nameTok := args.MatchType(pongo2.TokenString)
	if nameTok == nil {
		at := args.Current()
		if at == nil {
			at = start
		}
		return nil, args.Error("{% cached %} needs the fragment's name as its first argument, a string literal: {% cached \"sidebar\" ... %}", at)
	}
	if nameTok.Val == "" {
		return nil, args.Error("{% cached %}: the fragment's name must not be empty", nameTok)
	}
	n.name = nameTok.Val

	seen := map[string]bool{}
	for args.Remaining() > 0 {
		opt := args.PeekType(pongo2.TokenIdentifier)
		if opt == nil || args.PeekN(1, pongo2.TokenSymbol, "=") == nil {
			// A vary-on expression.
			e, err := args.ParseExpression()
			if err != nil {
				return nil, err
			}
			n.vary = append(n.vary, e)
			continue
		}
		if !slices.Contains(options, opt.Val) {
			return nil, args.Error(fmt.Sprintf("{%% cached %%}: unknown option %q (the options are %s; vary-on values are given without a name)",
				opt.Val, strings.Join(options, "=, ")+"="), opt)
		}
		if seen[opt.Val] {
			return nil, args.Error(fmt.Sprintf("{%% cached %%}: option %s= given twice", opt.Val), opt)
		}
		seen[opt.Val] = true
		args.ConsumeN(2) // name =
		if args.Remaining() == 0 {
			return nil, args.Error(fmt.Sprintf("{%% cached %%}: option %s= needs a value", opt.Val), nil)
		}
		var err *pongo2.Error
		switch opt.Val {
		case "region":
			t := args.MatchType(pongo2.TokenString)
			if t == nil {
				return nil, args.Error("{% cached %}: region= takes the region's name as a string literal: region=\"memcached\"", nil)
			}
			n.opts.Region = t.Val
		case "expires":
			n.opts.Expires, err = parseExpires(args)
		case "key":
			n.key, err = args.ParseExpression()
		case "if":
			n.ifExpr, err = args.ParseExpression()
		case "unless":
			n.unlessExpr, err = args.ParseExpression()
		case "digest":
			t := args.MatchOne(pongo2.TokenKeyword, "true", "false")
			if t == nil {
				return nil, args.Error("{% cached %}: digest= takes true or false", nil)
			}
			n.digestOn = t.Val == "true"
		}
		if err != nil {
			return nil, err
		}
	}
	if n.key != nil && len(n.vary) > 0 {
		return nil, args.Error("{% cached %}: key= replaces the fragment's whole key, so vary-on values would be ignored; put them into the key expression", n.vary[0].GetPositionToken())
	}

	// The digest covers the tag's own arguments and every token up to and
	// including {% endcached %}: the source of the block, without
	// positions, so edits elsewhere in the template keep the key.
	h := sha256.New()
	for i := 0; i < args.Count(); i++ {
		hashToken(h, args.Get(i))
	}
	from := doc.Count() - doc.Remaining()
	body, endArgs, err := doc.WrapUntilTag("end" + TagName)
	if err != nil {
		return nil, err
	}
	if endArgs.Count() > 0 {
		return nil, endArgs.Error("{% endcached %} takes no arguments", nil)
	}
	to := doc.Count() - doc.Remaining()
	var block *pongo2.Token // the first {% block %} of the body
	blockName := ""
	for i := from; i < to; i++ {
		t := doc.Get(i)
		hashToken(h, t)
		if block == nil && t.Typ == pongo2.TokenSymbol && t.Val == "{%" {
			if id := doc.Get(i + 1); id != nil && id.Typ == pongo2.TokenIdentifier && id.Val == "block" {
				block = id
				if name := doc.Get(i + 2); name != nil && name.Typ == pongo2.TokenIdentifier {
					blockName = " " + name.Val
				}
			}
		}
	}
	n.body = body
	if n.digestOn {
		sum := h.Sum(nil)
		n.digest = hex.EncodeToString(sum[:8])
	}

	// Django's trap: the body of a block is whatever the template that
	// extends this one says, but the key names this template only.
	if block != nil && n.key == nil && len(n.vary) == 0 {
		return nil, args.Error(fmt.Sprintf(
			"{%% cached %q %%} contains {%% block%s %%} at line %d: every template that extends this one can fill the block differently, "+
				"but the fragment's key names only this template, so one child's rendering would be served to all of them; "+
				"give key= or vary-on values that tell the pages apart, or put the {%% cached %%} inside the block",
			n.name, blockName, block.Line), start)
	}

	if n.key == nil {
		declarations.declare(tmplcache.Declaration{
			Template: n.template,
			Name:     n.name,
			Digest:   n.digest,
			Region:   n.opts.Region,
		})
	}
	return n, nil
}

// parseExpires reads expires=: an integer number of seconds, or -1 for
// never.
func parseExpires(args *pongo2.Parser) (time.Duration, *pongo2.Error) {
	first := args.Current()
	neg := args.Match(pongo2.TokenSymbol, "-") != nil
	num := args.MatchType(pongo2.TokenNumber)
	if num == nil || args.Peek(pongo2.TokenSymbol, ".") != nil {
		return 0, args.Error("{% cached %}: expires= takes a whole number of seconds (a literal; -1 for never)", first)
	}
	secs, err := strconv.ParseInt(num.Val, 10, 64)
	if err != nil || secs > int64(1<<63-1)/int64(time.Second) {
		return 0, args.Error(fmt.Sprintf("{%% cached %%}: expires=%s is out of range", num.Val), first)
	}
	switch {
	case neg && secs == 1:
		return dogpile.NoExpiration, nil
	case neg:
		return 0, args.Error("{% cached %}: expires= must be positive, or -1 for never", first)
	case secs == 0:
		return 0, args.Error("{% cached %}: expires=0 would expire the fragment at once; omit expires= for the region's expiration time, or give -1 for never", first)
	}
	return time.Duration(secs) * time.Second, nil
}

// hashToken writes a token's type, whitespace-trimming flag and text,
// length-prefixed, to h.
func hashToken(h interface{ Write([]byte) (int, error) }, t *pongo2.Token) {
	var b [17]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(t.Typ))
	if t.TrimWhitespaces {
		b[8] = 1
	}
	binary.BigEndian.PutUint64(b[9:17], uint64(len(t.Val)))
	h.Write(b[:])
	h.Write([]byte(t.Val))
}

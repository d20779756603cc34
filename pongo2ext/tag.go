package pongo2ext

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
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

// ForTagName is the name the collection tag is registered under; its end
// tag is "end" + ForTagName.
const ForTagName = "cachedfor"

func init() {
	for name, parse := range map[string]pongo2.TagParser{
		TagName:     parseCached,
		ForTagName:  parseCachedFor,
		makoTagName: parseMakoError,
	} {
		if err := pongo2.RegisterTag(name, parse); err != nil {
			panic("pongo2ext: " + err.Error())
		}
	}
}

// The options of each tag, in the order the documentation lists them.
var (
	cachedOptions    = []string{"region", "expires", "key", "if", "unless", "digest", "tags", "tag"}
	cachedForOptions = []string{"by", "region", "expires", "if", "unless", "digest", "tags", "tag"}
)

// block is what the two tags share: a cached block's identity, where and
// how long it is cached, and the expressions evaluated when it executes.
type block struct {
	tag      string        // TagName or ForTagName, for messages
	start    *pongo2.Token // the tag's name, for error positions
	template string        // the template's name as pongo2 gave it
	name     string        // the fragment's name; "#n" for a nameless block
	named    bool
	digest   string // "" with digest=false
	digestOn bool

	region  string
	expires expires

	key        pongo2.IEvaluator // key= (cached only)
	by         pongo2.IEvaluator // by= (cachedfor only)
	ifExpr     pongo2.IEvaluator
	unlessExpr pongo2.IEvaluator
	tags       []pongo2.IEvaluator // tags= first, then every tag=, in order
	vary       []pongo2.IEvaluator

	keys keyFuncs
}

// parseName reads the optional leading string literal that names the
// block; without it the block is named by its place in the template.
func (b *block) parseName(doc, args *pongo2.Parser) *pongo2.Error {
	if t := args.MatchType(pongo2.TokenString); t != nil {
		switch {
		case t.Val == "":
			return args.Error(fmt.Sprintf("{%% %s %%}: the fragment's name must not be empty (leave it out for a nameless block)", b.tag), t)
		case strings.HasPrefix(t.Val, "#"):
			return args.Error(fmt.Sprintf("{%% %s %%}: names starting with '#' are the places of nameless blocks; choose another name for %q", b.tag, t.Val), t)
		}
		b.name, b.named = t.Val, true
		return nil
	}
	b.name = tmplcache.PositionalName(blockPlace(doc))
	return nil
}

// blockPlace returns the place of the tag being parsed among the cached
// blocks of its template (both tags count), 1-based, in the order their
// start tags appear in the source, which is pongo2's parse order: the
// tokens of the template up to the current one are scanned for the start
// tags. Lexing is the same on every host and for every way of loading the
// template, so the place is too.
func blockPlace(doc *pongo2.Parser) int {
	n := 0
	for i, end := 0, doc.Count()-doc.Remaining(); i < end; i++ {
		if t := doc.Get(i); t.Typ == pongo2.TokenSymbol && t.Val == "{%" {
			if id := doc.Get(i + 1); id != nil && id.Typ == pongo2.TokenIdentifier && (id.Val == TagName || id.Val == ForTagName) {
				n++
			}
		}
	}
	return n
}

// parseOptions reads the options and vary-on expressions that follow the
// tag's leading arguments, up to the end of args.
func (b *block) parseOptions(args *pongo2.Parser, allowed []string) *pongo2.Error {
	seen := map[string]bool{}
	for args.Remaining() > 0 {
		opt := args.PeekType(pongo2.TokenIdentifier)
		if opt == nil || args.PeekN(1, pongo2.TokenSymbol, "=") == nil {
			// A vary-on expression.
			e, err := args.ParseExpression()
			if err != nil {
				return err
			}
			b.vary = append(b.vary, e)
			continue
		}
		if !slices.Contains(allowed, opt.Val) {
			return args.Error(fmt.Sprintf("{%% %s %%}: unknown option %q (the options are %s; vary-on values are given without a name)",
				b.tag, opt.Val, strings.Join(allowed, "=, ")+"="), opt)
		}
		if seen[opt.Val] && opt.Val != "tag" {
			return args.Error(fmt.Sprintf("{%% %s %%}: option %s= given twice", b.tag, opt.Val), opt)
		}
		seen[opt.Val] = true
		args.ConsumeN(2) // name =
		if args.Remaining() == 0 {
			return args.Error(fmt.Sprintf("{%% %s %%}: option %s= needs a value", b.tag, opt.Val), nil)
		}
		var err *pongo2.Error
		switch opt.Val {
		case "region":
			t := args.MatchType(pongo2.TokenString)
			if t == nil {
				return args.Error(fmt.Sprintf("{%% %s %%}: region= takes the region's name as a string literal: region=\"memcached\"", b.tag), nil)
			}
			b.region = t.Val
		case "expires":
			b.expires, err = b.parseExpires(args)
		case "key":
			b.key, err = args.ParseExpression()
		case "by":
			b.by, err = args.ParseExpression()
		case "if":
			b.ifExpr, err = args.ParseExpression()
		case "unless":
			b.unlessExpr, err = args.ParseExpression()
		case "digest":
			t := args.MatchOne(pongo2.TokenKeyword, "true", "false")
			if t == nil {
				return args.Error(fmt.Sprintf("{%% %s %%}: digest= takes true or false", b.tag), nil)
			}
			b.digestOn = t.Val == "true"
		case "tags", "tag":
			var e pongo2.IEvaluator
			if e, err = args.ParseExpression(); err == nil {
				if opt.Val == "tags" {
					b.tags = append([]pongo2.IEvaluator{e}, b.tags...)
				} else {
					b.tags = append(b.tags, e)
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// expires is the expires= option: a literal, known at parse time, or an
// expression evaluated on every execution.
type expires struct {
	fixed time.Duration // 0: the region's
	expr  pongo2.IEvaluator
}

// parseExpires reads expires=: a whole number of seconds, -1 for never,
// as a literal (checked here) or as any other expression (checked when
// the block executes). A literal is a number, with or without a minus
// sign, and ends there: "expires=60 -x" is 60 and the vary-on value -x;
// write arithmetic in parentheses, expires=(60*5).
func (b *block) parseExpires(args *pongo2.Parser) (expires, *pongo2.Error) {
	first := args.Current()
	switch {
	case first.Typ == pongo2.TokenString:
		return expires{}, args.Error(fmt.Sprintf("{%% %s %%}: expires= takes a whole number of seconds, not a string: expires=60 (-1 for never)", b.tag), first)
	case first.Typ == pongo2.TokenIdentifier && first.Val[0] >= '0' && first.Val[0] <= '9':
		// pongo2 lexes "60s" as an identifier.
		return expires{}, args.Error(fmt.Sprintf("{%% %s %%}: expires= takes a whole number of seconds, without a unit: expires=60 (-1 for never)", b.tag), first)
	case first.Typ == pongo2.TokenNumber, first.Typ == pongo2.TokenSymbol && first.Val == "-" && args.PeekTypeN(1, pongo2.TokenNumber) != nil:
	default:
		e, err := args.ParseExpression()
		return expires{expr: e}, err
	}
	neg := args.Match(pongo2.TokenSymbol, "-") != nil
	num := args.MatchType(pongo2.TokenNumber)
	if args.Peek(pongo2.TokenSymbol, ".") != nil {
		return expires{}, args.Error(fmt.Sprintf("{%% %s %%}: expires= takes a whole number of seconds (-1 for never)", b.tag), first)
	}
	secs, err := strconv.ParseInt(num.Val, 10, 64)
	if err != nil || secs > maxSeconds {
		return expires{}, args.Error(fmt.Sprintf("{%% %s %%}: expires=%s is out of range", b.tag, num.Val), first)
	}
	if neg {
		secs = -secs
	}
	d, msg := expiration(secs)
	if msg != "" {
		return expires{}, args.Error(fmt.Sprintf("{%% %s %%}: expires=%d %s", b.tag, secs, msg), first)
	}
	return expires{fixed: d}, nil
}

// maxSeconds is the largest expires= a time.Duration holds.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// expiration maps whole seconds to the expiration they mean, or says why
// they mean none.
func expiration(secs int64) (time.Duration, string) {
	switch {
	case secs == -1:
		return dogpile.NoExpiration, ""
	case secs == 0:
		return 0, "would expire the fragment at once; omit expires= for the region's expiration time, or give -1 for never"
	case secs < 0:
		return 0, "is negative: expires= must be positive, or -1 for never"
	case secs > maxSeconds:
		return 0, "is out of range"
	}
	return time.Duration(secs) * time.Second, ""
}

// parseCached parses
//
//	{% cached ["name"] region="r" expires=300 key=expr if=expr unless=expr digest=false tags=expr tag=expr vary... %}
//	...
//	{% endcached %}
func parseCached(doc *pongo2.Parser, start *pongo2.Token, args *pongo2.Parser) (pongo2.INodeTag, *pongo2.Error) {
	n := &cachedNode{block: block{tag: TagName, start: start, template: start.Filename, digestOn: true}}
	if err := n.parseName(doc, args); err != nil {
		return nil, err
	}
	if err := n.parseOptions(args, cachedOptions); err != nil {
		return nil, err
	}
	if n.key != nil && len(n.vary) > 0 {
		return nil, args.Error("{% cached %}: key= replaces the fragment's whole key, so vary-on values would be ignored; put them into the key expression", n.vary[0].GetPositionToken())
	}
	h := sha256.New()
	for i := 0; i < args.Count(); i++ {
		hashToken(h, args.Get(i))
	}
	body, err := n.parseBody(doc, args, h, "end"+TagName)
	if err != nil {
		return nil, err
	}
	n.body = body[0]
	if n.key == nil {
		n.declare()
	}
	return n, nil
}

// parseBody parses the block's body up to one of ends, the last being the
// end tag, and completes the block: its digest covers the tag's own
// arguments (already in h) and every token up to and including the end
// tag, the source of the block without positions, so that edits elsewhere
// in the template keep the key, and the templates the body includes or
// imports by a literal name (see dependencies). It returns the bodies
// between the tags found, in order.
func (b *block) parseBody(doc, args *pongo2.Parser, h hash.Hash, ends ...string) ([]*pongo2.NodeWrapper, *pongo2.Error) {
	from := doc.Count() - doc.Remaining()
	var bodies []*pongo2.NodeWrapper
	for {
		body, endArgs, err := doc.WrapUntilTag(ends...)
		if err != nil {
			return nil, err
		}
		if endArgs.Count() > 0 {
			return nil, endArgs.Error(fmt.Sprintf("{%% %s %%} takes no arguments", body.Endtag), nil)
		}
		bodies = append(bodies, body)
		if body.Endtag == ends[len(ends)-1] {
			break
		}
		ends = ends[len(ends)-1:] // each middle tag once
	}
	to := doc.Count() - doc.Remaining()
	var inner *pongo2.Token // the first {% block %} of the body
	innerName := ""
	for i := from; i < to; i++ {
		t := doc.Get(i)
		hashToken(h, t)
		if inner == nil && t.Typ == pongo2.TokenSymbol && t.Val == "{%" {
			if id := doc.Get(i + 1); id != nil && id.Typ == pongo2.TokenIdentifier && id.Val == "block" {
				inner = id
				if name := doc.Get(i + 2); name != nil && name.Typ == pongo2.TokenIdentifier {
					innerName = " " + name.Val
				}
			}
		}
	}
	if b.digestOn {
		for _, body := range bodies {
			dependencies(h, body)
		}
		b.digest = hex.EncodeToString(h.Sum(nil)[:8])
	} else if !b.named && strings.HasPrefix(b.template, "<") {
		return nil, args.Error(fmt.Sprintf(
			"{%% %s %%}: a nameless block with digest=false in a template from FromString or FromBytes: all such templates are named %q, "+
				"so their blocks %s would share one key; give the block a name", b.tag, b.template, b.name), b.start)
	}

	// Django's trap: the body of a block is whatever the template that
	// extends this one says, but the key names this template only.
	if inner != nil && b.key == nil && len(b.vary) == 0 {
		return nil, args.Error(fmt.Sprintf(
			"%s contains {%% block%s %%} at line %d: every template that extends this one can fill the block differently, "+
				"but the fragment's key names only this template, so one child's rendering would be served to all of them; "+
				"give key= or vary-on values that tell the pages apart, or put the {%% cached %%} inside the block",
			b.describeTag(), innerName, inner.Line), b.start)
	}
	return bodies, nil
}

// describeTag names the block's start tag in messages.
func (b *block) describeTag() string {
	if b.named {
		return fmt.Sprintf("{%% %s %q %%}", b.tag, b.name)
	}
	return fmt.Sprintf("{%% %s %%} (nameless, the template's cached block %s)", b.tag, b.name)
}

// declare records the block's fragment for Cache.KeyFor and Invalidate.
func (b *block) declare() {
	declarations.declare(tmplcache.Declaration{
		Template: b.template,
		Name:     b.name,
		Digest:   b.digest,
		Region:   b.region,
	})
}

// hashToken writes a token's type, whitespace-trimming flag and text,
// length-prefixed, to h.
func hashToken(h hash.Hash, t *pongo2.Token) {
	hashTokenParts(h, int(t.Typ), t.TrimWhitespaces, t.Val)
}

func hashTokenParts(h hash.Hash, typ int, trim bool, val string) {
	var b [17]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(typ))
	if trim {
		b[8] = 1
	}
	binary.BigEndian.PutUint64(b[9:17], uint64(len(val)))
	h.Write(b[:])
	h.Write([]byte(val))
}

package pyconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/ini.v1"
)

// ReadINI reads the settings of one section of a Paste or Pyramid .ini
// file, such as "app:main", as Python's configparser reads them for
// PasteDeploy, so that ConfigureFromConfig configures the same regions
// from the same file as the Python application does:
//
//   - keys keep their case, as PasteDeploy keeps it, and the keys of the
//     [DEFAULT] section are in every section;
//   - a value continued on indented lines is its lines joined by "\n",
//     each stripped (dogpile.cache's server lists);
//   - ";" and "#" start comments only at the start of a line, and quotes
//     are kept, as configparser does;
//   - %(name)s is replaced by the value of name in the section or in
//     [DEFAULT], and %% by %, with "here" (the file's directory) and
//     "__file__" (its path) defined as PasteDeploy defines them.
//
// The settings are PasteDeploy's settings for the application, and one
// more: "use", the name of the application's factory, which PasteDeploy
// takes out of them. A key given twice in one section is an error, as it
// is to configparser; so are references nested deeper than configparser
// allows (10, a loop) and, unlike configparser, a value longer than 1 MiB
// once its references are replaced. The file is read by gopkg.in/ini.v1.
func ReadINI(filename, section string) (map[string]any, error) {
	path, err := filepath.Abs(filename)
	if err != nil {
		return nil, fmt.Errorf("pyconfig: %w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pyconfig: %w", err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		AllowPythonMultilineValues: true,
		IgnoreInlineComment:        true,
		PreserveSurroundedQuote:    true,
		AllowShadows:               true,
		KeyValueDelimiters:         "=:",
	}, src)
	if err != nil {
		return nil, fmt.Errorf("pyconfig: %s: %w", filename, err)
	}
	sec, err := f.GetSection(section)
	if err != nil {
		return nil, fmt.Errorf("pyconfig: %s: no section [%s]", filename, section)
	}
	raw := map[string]string{"here": filepath.Dir(path), "__file__": path}
	add := func(s *ini.Section) error {
		for _, k := range s.Keys() {
			if len(k.ValueWithShadows()) > 1 {
				return fmt.Errorf("pyconfig: %s: section [%s]: key %q given twice", filename, s.Name(), k.Name())
			}
			raw[k.Name()] = pythonValue(k.Value())
		}
		return nil
	}
	if def, err := f.GetSection(ini.DefaultSection); err == nil && def != sec {
		if err := add(def); err != nil {
			return nil, err
		}
	}
	if err := add(sec); err != nil {
		return nil, err
	}
	out := make(map[string]any, len(raw))
	for k := range raw {
		v, err := interpolate(raw, k, 0)
		if err != nil {
			return nil, fmt.Errorf("pyconfig: %s: section [%s]: %w", filename, section, err)
		}
		out[k] = v
	}
	return out, nil
}

// pythonValue strips each line of a value continued on several lines, as
// configparser does.
func pythonValue(v string) string {
	if !strings.Contains(v, "\n") {
		return v
	}
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// maxValueLen bounds a value after interpolation: a few lines of
// references to references can otherwise ask for gigabytes.
const maxValueLen = 1 << 20

// interpolate returns the value of key with configparser's
// BasicInterpolation applied: %(name)s and %%.
func interpolate(vals map[string]string, key string, depth int) (string, error) {
	if depth > maxInterpolationDepth {
		return "", fmt.Errorf("value of %q: interpolation deeper than %d (a reference loop?)", key, maxInterpolationDepth)
	}
	v := vals[key]
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		switch {
		case i+1 < len(v) && v[i+1] == '%':
			b.WriteByte('%')
			i++
		case i+1 < len(v) && v[i+1] == '(':
			end := strings.Index(v[i:], ")s")
			if end < 0 {
				return "", fmt.Errorf("value of %q: bad interpolation syntax at %q", key, v[i:])
			}
			name := v[i+2 : i+end]
			if _, ok := vals[name]; !ok {
				return "", fmt.Errorf("value of %q: %%(%s)s refers to no key", key, name)
			}
			sub, err := interpolate(vals, name, depth+1)
			if err != nil {
				return "", err
			}
			if b.Len()+len(sub) > maxValueLen {
				return "", fmt.Errorf("value of %q: longer than %d bytes once interpolated", key, maxValueLen)
			}
			b.WriteString(sub)
			i += end + 1
		default:
			return "", fmt.Errorf("value of %q: '%%' must be followed by '%%' or '(', found %q", key, v[i:])
		}
	}
	return b.String(), nil
}

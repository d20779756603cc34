package webdriver

import (
	"errors"
	"fmt"
	"os/exec"
)

// FindChrome returns the paths of a Chromium (or Chrome) browser and of
// chromedriver found in PATH, or an error naming what is missing.
func FindChrome() (browser, driver string, err error) {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	driver, _ = exec.LookPath("chromedriver")
	var missing []error
	if browser == "" {
		missing = append(missing, errors.New("no chromium in PATH (Debian package chromium)"))
	}
	if driver == "" {
		missing = append(missing, errors.New("no chromedriver in PATH (Debian package chromium-driver)"))
	}
	if len(missing) > 0 {
		return "", "", fmt.Errorf("webdriver: %w; scripts/test-deps.sh installs both", errors.Join(missing...))
	}
	return browser, driver, nil
}

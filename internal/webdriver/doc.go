// Package webdriver is a small client of the W3C WebDriver protocol, enough
// to drive headless Chromium through chromedriver in tests: start
// chromedriver on a free loopback port, open a session, navigate, find
// elements, type, click, run scripts, take screenshots, end the session.
// It uses net/http and encoding/json only.
//
//	browser, driver, err := webdriver.FindChrome()
//	if err != nil {
//		t.Skip(err) // or t.Fatal under CI
//	}
//	d, err := webdriver.Start(ctx, webdriver.DriverOptions{Path: driver})
//	...
//	defer d.Stop()
//	s, err := d.NewSession(ctx, webdriver.ChromeOptions{Binary: browser, Headless: true, UserDataDir: t.TempDir()})
//	...
//	defer s.Delete(context.Background())
//	err = s.Navigate(ctx, srv.URL)
//	box, err := s.FindElement(ctx, webdriver.ByCSS, "#filter")
//	err = box.SendKeys(ctx, "user")
//
// Debian's packages chromium and chromium-driver provide /usr/bin/chromium
// and /usr/bin/chromedriver (scripts/test-deps.sh installs them).
package webdriver

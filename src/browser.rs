//! Opening the user's browser on this machine: `$BROWSER`, else the desktop's opener
//! (xdg-open, `open` on macOS, the shell on Windows), through the `webbrowser` crate.
//! Callers always print the URL as well; a browser may not exist here.

/// Ask the browser to open `url`; whether one was started.
pub(crate) fn open(url: &str) -> bool {
    webbrowser::open(url).is_ok()
}

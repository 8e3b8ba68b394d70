//! Checks a gallery page in headless Chromium (being written).

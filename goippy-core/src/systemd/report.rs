//! What an install command tells the operator, collected in order.
//!
//! The commands return their messages rather than print them, so the library
//! does no terminal I/O and tests can read exactly what an operator would see.
//! When a command fails half-way, the report still holds what was already
//! done (files written, steps run) and the caller prints it before the error.

/// Lines for standard output, in the order things happened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    text: String,
}

impl Report {
    /// Adds a line (a trailing newline is added).
    pub fn say(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// Adds text that may span several lines, as it is.
    pub fn say_block(&mut self, block: &str) {
        self.text.push_str(block);
        if !block.is_empty() && !block.ends_with('\n') {
            self.text.push('\n');
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

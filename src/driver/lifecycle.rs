//! The life of a local driver's [`FileWriter`](super::FileWriter): open, then closed,
//! committed or cancelled, with the errors Distribution's drivers give for a writer used
//! after that.

use super::DriverError;

/// Where a writer is in its life. Commit and cancel end it; close ends the handle (and
/// keeps the upload for a later append unless the writer was committed or cancelled).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Lifecycle {
    closed: bool,
    committed: bool,
    cancelled: bool,
}

impl Lifecycle {
    /// `Ok` while the writer takes writes and a commit.
    pub(crate) fn check_open(self) -> Result<(), DriverError> {
        if self.closed {
            Err(DriverError::msg("already closed"))
        } else if self.committed {
            Err(DriverError::msg("already committed"))
        } else if self.cancelled {
            Err(DriverError::msg("already cancelled"))
        } else {
            Ok(())
        }
    }

    /// Whether the writer still holds an upload: neither committed nor cancelled.
    pub(crate) fn holds_upload(self) -> bool {
        !self.committed && !self.cancelled
    }

    /// Marks the writer closed.
    ///
    /// # Errors
    /// "already closed" the second time.
    pub(crate) fn close(&mut self) -> Result<(), DriverError> {
        if self.closed {
            return Err(DriverError::msg("already closed"));
        }
        self.closed = true;
        Ok(())
    }

    /// Marks the writer cancelled.
    ///
    /// # Errors
    /// "already closed" or "already committed": neither can be undone.
    pub(crate) fn cancel(&mut self) -> Result<(), DriverError> {
        if self.closed {
            return Err(DriverError::msg("already closed"));
        } else if self.committed {
            return Err(DriverError::msg("already committed"));
        }
        self.cancelled = true;
        Ok(())
    }

    /// Marks the writer committed (after [`Lifecycle::check_open`] and the commit itself).
    pub(crate) fn commit(&mut self) {
        self.committed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(r: Result<(), DriverError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn each_end_is_final_with_its_message() {
        let mut l = Lifecycle::default();
        assert!(l.check_open().is_ok() && l.holds_upload());
        l.commit();
        assert!(err(l.check_open()).contains("already committed"));
        assert!(err(l.cancel()).contains("already committed"));
        assert!(!l.holds_upload());
        assert!(l.close().is_ok());
        assert!(err(l.close()).contains("already closed"));

        let mut l = Lifecycle::default();
        assert!(l.cancel().is_ok());
        assert!(err(l.check_open()).contains("already cancelled"));
        assert!(!l.holds_upload());

        let mut l = Lifecycle::default();
        assert!(l.close().is_ok());
        assert!(l.holds_upload(), "a closed writer keeps its upload");
        assert!(err(l.check_open()).contains("already closed"));
        assert!(err(l.cancel()).contains("already closed"));
    }
}

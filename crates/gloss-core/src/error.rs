use crate::Addr;
use std::fmt;

/// Where in the input a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole.
    File,
    /// A byte offset into the file.
    Offset(u64),
    /// A virtual address.
    Addr(Addr),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => Ok(()),
            Location::Offset(o) => write!(f, " at file offset {o:#x}"),
            Location::Addr(a) => write!(f, " at address {a}"),
        }
    }
}

/// Library errors. Each names what is wrong and where; the CLI adds the file name.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not a well-formed file of the format they claim.
    #[error("malformed {format} file{location}: {what}")]
    Malformed {
        format: &'static str,
        location: Location,
        what: String,
    },
    /// A well-formed file that gloss does not handle (another architecture, a format variant).
    #[error("unsupported file: {0}")]
    Unsupported(String),
    /// The user asked for something the image does not have.
    #[error("{0}")]
    NotFound(String),
    /// (transparent: the I/O error's own message once, not again as its source)
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    pub fn malformed(format: &'static str, location: Location, what: impl Into<String>) -> Error {
        Error::Malformed {
            format,
            location,
            what: what.into(),
        }
    }
}

//! Notifications about the radio side of a channel: `CELLS:` (neighbour
//! list, the answer to `get_cells_list`), `BCCH:` (neighbours, sent while
//! idle), `CELLINFO:` (serving cell) and `CGATT:` (packet-service attach)
//! — docs/goip-protocol.md#radio-events.

use super::error::{FormatError, Problem};
use super::fields::{FieldWriter, Fields};
use super::keepalive::yes_no;

/// A comma-separated cell list (`lists:689,638,783,` in `CELLS:`,
/// `bcch:689,638,` in `BCCH:`). The GoIP ends it with a comma; empty items
/// are dropped. Items are kept as text (ARFCNs in every capture so far).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NeighbourCells {
    pub cells: Vec<String>,
}

impl NeighbourCells {
    pub(crate) fn from_fields(mut fields: Fields, key: &'static str) -> Result<Self, Problem> {
        let list = fields.require(key)?;
        Ok(NeighbourCells {
            cells: list
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter, key: &str) -> Result<(), FormatError> {
        let mut list = String::new();
        for cell in &self.cells {
            let trimmed = cell.trim();
            if trimmed.is_empty() || trimmed != cell || cell.contains(',') {
                let expected = "a non-empty item without ',' or surrounding spaces";
                return Err(FormatError::invalid("cell", cell, expected));
            }
            list.push_str(cell);
            list.push(',');
        }
        w.field("cell list", key, &list)
    }
}

/// `CELLINFO:…;info:<cell info>`: the serving cell, sent after registering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellInfo {
    pub info: String,
}

impl CellInfo {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        Ok(CellInfo {
            info: fields.require("info")?,
        })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field("cell info", "info", &self.info)
    }
}

// Test support: goippy keeps the cell info as text.
#[cfg(test)]
impl CellInfo {
    pub fn serving_cell(&self) -> Option<ServingCell> {
        ServingCell::parse(&self.info)
    }
}

/// The serving cell's location area and cell id, read from
/// `LAC:7E5,CELL ID:5E5B` (hex; quotes around it are tolerated). Test
/// support: goippy keeps the cell info as text.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServingCell {
    pub lac: u32,
    pub cell_id: u32,
}

#[cfg(test)]
impl ServingCell {
    pub fn parse(info: &str) -> Option<ServingCell> {
        let info = info.trim().trim_matches('"');
        let mut lac = None;
        let mut cell_id = None;
        for part in info.split(',') {
            let (key, value) = part.split_once(':')?;
            let key = key.trim().trim_matches('"');
            let value = u32::from_str_radix(value.trim().trim_matches('"'), 16).ok()?;
            if key.eq_ignore_ascii_case("LAC") {
                lac = Some(value);
            } else if key.eq_ignore_ascii_case("CELL ID")
                || key.eq_ignore_ascii_case("CELLID")
                || key.eq_ignore_ascii_case("CI")
            {
                cell_id = Some(value);
            }
        }
        Some(ServingCell {
            lac: lac?,
            cell_id: cell_id?,
        })
    }
}

/// `CGATT:…;cgatt:<0|1>`: attached to packet service or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgatt {
    pub attached: bool,
}

impl Cgatt {
    pub(crate) fn from_fields(mut fields: Fields<'_>) -> Result<Self, Problem> {
        let value = fields.require("cgatt")?;
        let attached =
            yes_no(&value).ok_or_else(|| Problem::invalid("cgatt", &value, "0 or 1 (or N/Y)"))?;
        Ok(Cgatt { attached })
    }

    pub(crate) fn write(&self, w: &mut FieldWriter) -> Result<(), FormatError> {
        w.field(
            "attach state",
            "cgatt",
            if self.attached { "1" } else { "0" },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_lists_drop_the_trailing_comma() {
        let c =
            NeighbourCells::from_fields(Fields::split("lists:689,638,783,785,640,", &[]), "lists")
                .unwrap();
        assert_eq!(c.cells, ["689", "638", "783", "785", "640"]);
        let c = NeighbourCells::from_fields(Fields::split("bcch:", &[]), "bcch").unwrap();
        assert!(c.cells.is_empty());
        assert_eq!(
            NeighbourCells::from_fields(Fields::split("", &[]), "bcch"),
            Err(Problem::Missing("bcch"))
        );
    }

    #[test]
    fn serving_cell() {
        assert_eq!(
            ServingCell::parse("LAC:7E5,CELL ID:5E5B"),
            Some(ServingCell {
                lac: 0x7e5,
                cell_id: 0x5e5b
            })
        );
        assert_eq!(
            ServingCell::parse("\"LAC:1A,CELL ID:FF\""),
            Some(ServingCell {
                lac: 0x1a,
                cell_id: 0xff
            })
        );
        assert_eq!(ServingCell::parse(""), None);
        assert_eq!(ServingCell::parse("LAC:zz,CELL ID:1"), None);
        assert_eq!(ServingCell::parse("LAC:1"), None);
    }

    #[test]
    fn cgatt_values() {
        let read = |s: &str| Cgatt::from_fields(Fields::split(s, &[])).map(|c| c.attached);
        assert_eq!(read("cgatt:1"), Ok(true));
        assert_eq!(read("cgatt:0"), Ok(false));
        assert_eq!(read("cgatt:Y"), Ok(true));
        assert!(read("cgatt:2").is_err());
    }

    // Wire vectors (docs/goip-protocol.md#radio-events): real captures, the documented shapes and
    // the quirks. A capture must read back and re-encode byte for byte.

    use crate::goip::tests::capture;
    use crate::goip::*;

    #[test]
    fn radio_notifications() {
        let n = capture(
            "CELLS:34347;id:goip-1;password:goip;lists:689,638,783,785,640,",
            "CELLS 34347 OK",
        );
        let NotificationKind::Cells(c) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(c.cells, ["689", "638", "783", "785", "640"]);

        let n = capture(
            "BCCH:34348;id:goip-1;password:goip;bcch:689,638,783,785,640,",
            "BCCH 34348 OK",
        );
        let NotificationKind::Bcch(c) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(c.cells.len(), 5);

        let n = capture(
            "CELLINFO:34349;id:goip-1;password:goip;info:LAC:7E5,CELL ID:5E5B",
            "CELLINFO 34349 OK",
        );
        let NotificationKind::CellInfo(c) = &n.kind else {
            panic!("{n:?}")
        };
        assert_eq!(c.info, "LAC:7E5,CELL ID:5E5B");
        assert_eq!(
            c.serving_cell(),
            Some(ServingCell {
                lac: 0x7e5,
                cell_id: 0x5e5b
            })
        );

        let n = capture(
            "CGATT:34350;id:goip-1;password:goip;cgatt:1",
            "CGATT 34350 OK",
        );
        assert!(matches!(&n.kind, NotificationKind::Cgatt(c) if c.attached));
    }
}

//! rpm's Berkeley DB database, `/var/lib/rpm/Packages` (Amazon Linux 2, CentOS 7, RHEL up to
//! 8): a Berkeley DB *hash* database whose keys are package numbers and whose values are the
//! package headers. Read page by page from Berkeley DB's on-disk format, without the library:
//!
//! - page 0 is the hash meta page: magic `0x061561` (its byte order is the file's), page size,
//!   last page number;
//! - hash pages (types 2 and 13) hold an index of 2-byte item offsets after the 26-byte page
//!   header, items packed from the page's end, keys and values alternating; a value is inline
//!   (`H_KEYDATA`, type 1) or, when large (as headers usually are), `H_OFFPAGE` (type 3): the
//!   first overflow page and the total length;
//! - overflow pages (type 7) chain through `next_pgno`, each holding `hf_offset` bytes after its
//!   header.
//!
//! Pages are read in file order rather than bucket by bucket as rpm's own read-only reader
//! (`bdb_ro`) walks them; the tests check that both find the same packages, in files Berkeley DB
//! wrote in either byte order, with 512- and 4096-byte pages and many buckets.

const HASH_MAGIC: u32 = 0x0006_1561;
const BTREE_MAGIC: u32 = 0x0005_3162;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASHMETA: u8 = 8;
const P_HASH: u8 = 13;
const H_KEYDATA: u8 = 1;
const H_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;

/// The database's byte order, told by its magic number.
#[derive(Clone, Copy)]
struct Order {
    big_endian: bool,
}

impl Order {
    fn u32(self, bytes: &[u8], at: usize) -> Result<u32, String> {
        let b: [u8; 4] = bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("it ends inside the field at byte {at}"))?;
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u16(self, bytes: &[u8], at: usize) -> Result<usize, String> {
        let b: [u8; 2] = bytes
            .get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("it ends inside the field at byte {at}"))?;
        Ok(usize::from(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    }
}

/// The database's layout, from its meta page.
struct Layout<'a> {
    db: &'a [u8],
    order: Order,
    page_size: usize,
    last_page: usize,
}

impl<'a> Layout<'a> {
    fn read(db: &'a [u8]) -> Result<Self, String> {
        let magic_le = Order { big_endian: false }.u32(db, 12)?;
        let magic_be = Order { big_endian: true }.u32(db, 12)?;
        let order = match (magic_le, magic_be) {
            (HASH_MAGIC, _) => Order { big_endian: false },
            (_, HASH_MAGIC) => Order { big_endian: true },
            (BTREE_MAGIC, _) | (_, BTREE_MAGIC) => {
                return Err(
                    "it is a Berkeley DB B-tree database; rpm keeps Packages as a hash \
                            database, so this file is not an rpm package database"
                        .to_owned(),
                );
            }
            _ => {
                return Err(
                    "it is not a Berkeley DB hash database (no hash magic number)".to_owned(),
                );
            }
        };
        if db.get(25) != Some(&P_HASHMETA) {
            return Err("its first page is not a hash meta page".to_owned());
        }
        if db.get(24).is_some_and(|&alg| alg != 0) {
            return Err("it is encrypted".to_owned());
        }
        let page_size = order.u32(db, 20)? as usize;
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!(
                "its page size {page_size} is not one Berkeley DB uses"
            ));
        }
        let last_page = order.u32(db, 32)? as usize;
        Ok(Self {
            db,
            order,
            page_size,
            last_page,
        })
    }

    fn page(&self, number: usize) -> Result<&'a [u8], String> {
        let start = number
            .checked_mul(self.page_size)
            .ok_or_else(|| format!("page {number} is out of range"))?;
        self.db
            .get(start..start + self.page_size)
            .ok_or_else(|| format!("page {number} lies past the end of the file (truncated?)"))
    }

    /// Item `i` of a hash page: from its offset to the previous item's (items are packed
    /// from the page's end in index order).
    fn item(&self, page: &'a [u8], count: usize, i: usize) -> Result<&'a [u8], String> {
        let start = self.order.u16(page, PAGE_HEADER + 2 * i)?;
        let end = match i {
            0 => self.page_size,
            _ => self.order.u16(page, PAGE_HEADER + 2 * (i - 1))?,
        };
        if start < PAGE_HEADER + 2 * count || start >= end || end > self.page_size {
            return Err(format!(
                "item {i} of a hash page spans {start}..{end}, outside its page"
            ));
        }
        Ok(&page[start..end])
    }

    /// A value stored on overflow pages, starting at `first`, `total` bytes long.
    fn overflow(&self, first: usize, total: usize) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(total.min(self.db.len()));
        let mut number = first;
        // A chain longer than the file has pages is a loop.
        for _ in 0..=self.last_page {
            let page = self.page(number)?;
            if page[25] != P_OVERFLOW {
                return Err(format!("page {number} should be an overflow page"));
            }
            let len = self.order.u16(page, 22)?;
            let data = page
                .get(PAGE_HEADER..PAGE_HEADER + len)
                .ok_or_else(|| format!("overflow page {number} claims {len} bytes"))?;
            out.extend_from_slice(data);
            let next = self.order.u32(page, 16)? as usize;
            if next == 0 || out.len() >= total {
                break;
            }
            number = next;
        }
        if out.len() != total {
            return Err(format!(
                "a value stored from page {first} is {} bytes, not the {total} its entry says",
                out.len()
            ));
        }
        Ok(out)
    }
}

/// The package headers in a Berkeley DB `Packages` file, in page order. rpm's record 0 (its
/// bookkeeping, not a package) is left out.
pub fn headers(db: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let layout = Layout::read(db)?;
    let mut out = Vec::new();
    for number in 1..=layout.last_page {
        let page = layout.page(number)?;
        if page[25] != P_HASH && page[25] != P_HASH_UNSORTED {
            continue;
        }
        let count = layout.order.u16(page, 20)?;
        for pair in 0..count / 2 {
            let key = layout.item(page, count, 2 * pair)?;
            let value = layout.item(page, count, 2 * pair + 1)?;
            if key.first() == Some(&H_KEYDATA) && key[1..].iter().all(|&b| b == 0) {
                continue;
            }
            let blob = match value[0] {
                H_KEYDATA => value[1..].to_vec(),
                H_OFFPAGE => {
                    let first = layout.order.u32(value, 4)? as usize;
                    let total = layout.order.u32(value, 8)? as usize;
                    layout.overflow(first, total)?
                }
                other => {
                    return Err(format!(
                        "page {number} holds a value of type {other}; rpm stores only plain and \
                         overflow values"
                    ));
                }
            };
            out.push(blob);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_refused_by_name() {
        let err = headers(&[0; 512]).unwrap_err();
        assert!(err.contains("not a Berkeley DB hash database"), "{err}");
        let mut btree = vec![0; 512];
        btree[12..16].copy_from_slice(&BTREE_MAGIC.to_le_bytes());
        assert!(headers(&btree).unwrap_err().contains("B-tree"));
        assert!(headers(b"short").unwrap_err().contains("ends inside"));
    }

    #[test]
    fn a_truncated_database_is_an_error_not_a_short_list() {
        let mut meta = vec![0; 4096];
        meta[12..16].copy_from_slice(&HASH_MAGIC.to_le_bytes());
        meta[20..24].copy_from_slice(&4096u32.to_le_bytes());
        meta[25] = P_HASHMETA;
        meta[32..36].copy_from_slice(&3u32.to_le_bytes());
        let err = headers(&meta).unwrap_err();
        assert!(err.contains("page 1 lies past the end"), "{err}");
    }
}

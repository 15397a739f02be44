//! pgvector's `vector` and `halfvec` as Rust types, read and written in pgvector's own
//! binary layout (varlena header, int16 dim, int16 unused, then the elements), so that no
//! text or array conversion sits between the model and the table.

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{FromDatum, IntoDatum};

/// A pgvector `vector` (float32 elements).
#[derive(Debug, Clone, PartialEq)]
pub struct Vector(pub Vec<f32>);

/// A pgvector `halfvec` (float16 elements).
#[derive(Debug, Clone, PartialEq)]
pub struct HalfVec(pub Vec<half::f16>);

pgrx::impl_sql_translatable!(Vector, "vector");
pgrx::impl_sql_translatable!(HalfVec, "halfvec");

const HEADER: usize = 8; // int32 vl_len_, int16 dim, int16 unused

/// The OID of a pgvector type, found through the extension's own schema (so it works
/// whatever the search_path is), cached for the backend's lifetime.
fn pgvector_type_oid(typname: &'static str) -> pg_sys::Oid {
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<(&'static str, pg_sys::Oid)>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if let Some(oid) = CACHE.with(|c| c.borrow().iter().find(|(n, _)| *n == typname).map(|(_, o)| *o)) {
        return oid;
    }
    let oid = lookup_type_oid(typname);
    if oid != pg_sys::InvalidOid {
        CACHE.with(|c| c.borrow_mut().push((typname, oid)));
    }
    oid
}

fn lookup_type_oid(typname: &str) -> pg_sys::Oid {
    let sql = format!(
        "select t.oid from pg_catalog.pg_type t join pg_catalog.pg_extension e on t.typnamespace = e.extnamespace \
         where e.extname = 'vector' and t.typname = '{typname}'"
    );
    Spi::get_one::<pg_sys::Oid>(&sql).ok().flatten().unwrap_or(pg_sys::InvalidOid)
}

/// The elements of a pgvector datum.
///
/// # Safety
/// `datum` must be a non-NULL `vector` (`elem` = 4, T = f32) or `halfvec` (`elem` = 2, T = f16)
/// datum. The element count is capped by the varlena's own size, so a malformed header cannot
/// make this read past the value.
unsafe fn read_elems<T: Copy>(datum: pg_sys::Datum, elem: usize) -> Vec<T> {
    // SAFETY: see the function's contract; detoasting returns a palloc'd copy (freed below) or
    // the datum itself, and the copy reads `dim * size_of::<T>()` bytes inside it.
    unsafe {
        let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
        let detoasted = pg_sys::pg_detoast_datum(raw);
        let base = detoasted as *const u8;
        let dim = std::ptr::read_unaligned(base.add(4) as *const i16).max(0) as usize;
        let total = pgrx::varsize_any(detoasted);
        let dim = dim.min(total.saturating_sub(HEADER) / elem);
        let mut out: Vec<T> = Vec::with_capacity(dim);
        // one copy of the elements (the varlena data need not be aligned for T)
        std::ptr::copy_nonoverlapping(base.add(HEADER), out.as_mut_ptr() as *mut u8, dim * std::mem::size_of::<T>());
        out.set_len(dim);
        if detoasted != raw {
            pg_sys::pfree(detoasted.cast());
        }
        out
    }
}

/// A pgvector datum (palloc'd in the current memory context) holding `elems`.
///
/// # Safety
/// T must be the element type of the pgvector type the datum is returned as (f32 or f16), and
/// `elems.len()` at most pgvector's 16,000 dimensions (it fits the int16 header).
unsafe fn write_elems<T: Copy>(elems: &[T]) -> pg_sys::Datum {
    let size = HEADER + std::mem::size_of_val(elems);
    // SAFETY: the allocation is `size` bytes; the header and elements are written inside it.
    unsafe {
        let ptr = pg_sys::palloc0(size) as *mut u8;
        pgrx::set_varsize_4b(ptr as *mut pg_sys::varlena, size as i32);
        std::ptr::write_unaligned(ptr.add(4) as *mut i16, elems.len() as i16);
        std::ptr::copy_nonoverlapping(elems.as_ptr() as *const u8, ptr.add(HEADER), std::mem::size_of_val(elems));
        pg_sys::Datum::from(ptr)
    }
}

/// pgvector's own limit on dimensions.
pub const MAX_DIM: usize = 16000;

impl FromDatum for Vector {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            None
        } else {
            // SAFETY: a non-NULL datum of type vector (pgrx checks the type before calling this)
            Some(Vector(unsafe { read_elems::<f32>(datum, 4) }))
        }
    }
}

impl IntoDatum for Vector {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        // SAFETY: f32 elements for a vector; callers build vectors from model outputs (≤ 16,000 dims)
        Some(unsafe { write_elems(&self.0) })
    }
    fn type_oid() -> pg_sys::Oid {
        pgvector_type_oid("vector")
    }
}

impl FromDatum for HalfVec {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            None
        } else {
            // SAFETY: a non-NULL datum of type halfvec (pgrx checks the type before calling this)
            Some(HalfVec(unsafe { read_elems::<half::f16>(datum, 2) }))
        }
    }
}

impl IntoDatum for HalfVec {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        // SAFETY: f16 elements for a halfvec, built from vectors of ≤ 16,000 dims
        Some(unsafe { write_elems(&self.0) })
    }
    fn type_oid() -> pg_sys::Oid {
        pgvector_type_oid("halfvec")
    }
}

// How pgrx passes these types as arguments and results (its own traits for its own types).
// SAFETY: the traits' contracts are pgrx's: arguments come from a valid FcInfo of a function
// declared with these SQL types, and results are palloc'd datums of the declared type.
macro_rules! abi {
    ($t:ty) => {
        // SAFETY: pgrx calls this with an argument of the function's declared SQL type ($t).
        unsafe impl<'fcx> ArgAbi<'fcx> for $t {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                // SAFETY: the argument's datum is of this type (the SQL signature says so)
                unsafe { arg.unbox_arg_using_from_datum().unwrap_or_else(|| panic!("argument {index} must not be null")) }
            }
        }
        // SAFETY: the datum returned is a palloc'd value of the declared result type ($t).
        unsafe impl BoxRet for $t {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
                match self.into_datum() {
                    // SAFETY: a datum of the function's declared result type
                    Some(datum) => unsafe { fcinfo.return_raw_datum(datum) },
                    None => fcinfo.return_null(),
                }
            }
        }
    };
}
abi!(Vector);
abi!(HalfVec);

impl From<&Vector> for HalfVec {
    fn from(v: &Vector) -> Self {
        HalfVec(v.0.iter().map(|x| half::f16::from_f32(*x)).collect())
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::*;

    #[pg_extern]
    fn songmatch_test_vector_roundtrip(v: Vector) -> Vector {
        Vector(v.0.iter().map(|x| x * 2.0).collect())
    }

    #[pg_extern]
    fn songmatch_test_halfvec(v: Vector) -> HalfVec {
        HalfVec::from(&v)
    }

    #[pg_test]
    fn vector_roundtrips_through_pgvector_layout() {
        let s = Spi::get_one::<String>("select tests.songmatch_test_vector_roundtrip('[1,2.5,-3]')::text").unwrap().unwrap();
        assert_eq!(s, "[2,5,-6]");
        let h = Spi::get_one::<String>("select tests.songmatch_test_halfvec('[1,0.5,-3]')::text").unwrap().unwrap();
        assert_eq!(h, "[1,0.5,-3]");
        let v = Spi::get_one::<Vector>("select '[0.25,4]'::vector").unwrap().unwrap();
        assert_eq!(v.0, vec![0.25, 4.0]);
    }
}

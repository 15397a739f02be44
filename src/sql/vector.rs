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

/// pgvector's own limit on dimensions.
pub const MAX_DIM: usize = 16000;

impl FromDatum for Vector {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            None
        } else {
            // SAFETY: a non-NULL datum of type vector (pgrx checks the type before calling this)
            Some(Vector(unsafe { super::ffi::vector_elems::<f32>(datum) }))
        }
    }
}

impl IntoDatum for Vector {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(super::ffi::vector_datum(&self.0))
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
            Some(HalfVec(unsafe { super::ffi::vector_elems::<half::f16>(datum) }))
        }
    }
}

impl IntoDatum for HalfVec {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(super::ffi::vector_datum(&self.0))
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

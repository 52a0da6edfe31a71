//! Raw event batches as Apache Arrow `RecordBatch`es (feature `parquet`),
//! so that a scan goes straight into DataFusion, Polars or a Parquet file.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::events::{Column, EventBatch, EventBatches};
use crate::error::{Error, Result};

fn arrow_error(e: arrow_schema::ArrowError) -> Error {
    Error::Io(std::io::Error::other(e.to_string()))
}

impl Column {
    /// The column's Arrow field: `ts` Int64 (ms since the epoch);
    /// `session`, `visitor` UInt64; coordinates, sizes and times UInt32,
    /// `ex`, `ey` UInt16; the rest Utf8 (`kind`, `device`, `channel` by
    /// their names, as in the exports). Nullable where an event may lack
    /// the field.
    pub fn arrow_field(self) -> Field {
        let (ty, nullable) = match self {
            Column::Ts => (DataType::Int64, false),
            Column::Session | Column::Visitor => (DataType::UInt64, false),
            Column::Kind | Column::Page | Column::Device => (DataType::Utf8, false),
            Column::X
            | Column::Y
            | Column::Vw
            | Column::Vh
            | Column::Dh
            | Column::LoadMs
            | Column::Len
            | Column::DurationMs => (DataType::UInt32, true),
            Column::Ex | Column::Ey => (DataType::UInt16, true),
            Column::Selector
            | Column::Name
            | Column::Browser
            | Column::Os
            | Column::Referrer
            | Column::Channel => (DataType::Utf8, true),
        };
        Field::new(self.name(), ty, nullable)
    }

    /// The Arrow schema of batches of these columns.
    pub fn arrow_schema(columns: &[Column]) -> SchemaRef {
        Arc::new(Schema::new(
            columns.iter().map(|c| c.arrow_field()).collect::<Vec<_>>(),
        ))
    }
}

fn missing(c: Column) -> Error {
    Error::InvalidArgument(format!("the batch has no {} column", c.name()))
}

impl EventBatch {
    /// The batch as an Arrow `RecordBatch`, its fields in
    /// [`EventBatch::columns`] order ([`Column::arrow_field`] gives the
    /// types).
    ///
    /// ```
    /// # let store = heatstore::Store::in_memory()?;
    /// # store.import_ndjson(concat!(
    /// #     r##"{"site":"shop.example","ts":1790812800000,"type":"pageview","session":"s1","url":"/pricing","vw":390,"vh":700,"dh":3000}"##, "\n",
    /// #     r##"{"site":"shop.example","ts":1790812804000,"type":"click","session":"s1","url":"/pricing","x":195,"y":1200,"selector":"#buy"}"##, "\n",
    /// # ).as_bytes())?;
    /// use heatstore::query::{Column, Filters};
    /// let snap = store.snapshot()?;
    /// let cols = [Column::Kind, Column::Page, Column::X];
    /// let mut rows = 0;
    /// for b in snap.event_batches("shop.example", &Filters::default(), &cols)? {
    ///     let rb = b?.to_record_batch()?;
    ///     assert_eq!(rb.schema().field(2).name(), "x");
    ///     rows += rb.num_rows();
    /// }
    /// assert_eq!(rows, 2);
    /// # Ok::<(), heatstore::Error>(())
    /// ```
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        let schema = Column::arrow_schema(&self.columns);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        fn strs(v: &[Option<Arc<str>>]) -> StringArray {
            v.iter().map(|s| s.as_deref()).collect::<StringArray>()
        }
        for &c in &self.columns {
            let a: ArrayRef = match c {
                Column::Ts => {
                    Arc::new(Int64Array::from(self.ts.clone().ok_or_else(|| missing(c))?))
                }
                Column::Kind => Arc::new(
                    self.kind
                        .as_ref()
                        .ok_or_else(|| missing(c))?
                        .iter()
                        .map(|k| Some(k.as_str()))
                        .collect::<StringArray>(),
                ),
                Column::Page => Arc::new(
                    self.page
                        .as_ref()
                        .ok_or_else(|| missing(c))?
                        .iter()
                        .map(|p| Some(&**p))
                        .collect::<StringArray>(),
                ),
                Column::Session => Arc::new(UInt64Array::from(
                    self.session.clone().ok_or_else(|| missing(c))?,
                )),
                Column::Visitor => Arc::new(UInt64Array::from(
                    self.visitor.clone().ok_or_else(|| missing(c))?,
                )),
                Column::X => u32s(&self.x, c)?,
                Column::Y => u32s(&self.y, c)?,
                Column::Vw => u32s(&self.vw, c)?,
                Column::Vh => u32s(&self.vh, c)?,
                Column::Dh => u32s(&self.dh, c)?,
                Column::LoadMs => u32s(&self.load_ms, c)?,
                Column::Len => u32s(&self.len, c)?,
                Column::DurationMs => u32s(&self.duration_ms, c)?,
                Column::Ex => Arc::new(UInt16Array::from(
                    self.ex.clone().ok_or_else(|| missing(c))?,
                )),
                Column::Ey => Arc::new(UInt16Array::from(
                    self.ey.clone().ok_or_else(|| missing(c))?,
                )),
                Column::Selector => {
                    Arc::new(strs(self.selector.as_deref().ok_or_else(|| missing(c))?))
                }
                Column::Name => Arc::new(strs(self.name.as_deref().ok_or_else(|| missing(c))?)),
                Column::Browser => {
                    Arc::new(strs(self.browser.as_deref().ok_or_else(|| missing(c))?))
                }
                Column::Os => Arc::new(strs(self.os.as_deref().ok_or_else(|| missing(c))?)),
                Column::Referrer => {
                    Arc::new(strs(self.referrer.as_deref().ok_or_else(|| missing(c))?))
                }
                Column::Device => Arc::new(
                    self.device
                        .as_ref()
                        .ok_or_else(|| missing(c))?
                        .iter()
                        .map(|d| Some(d.as_str()))
                        .collect::<StringArray>(),
                ),
                Column::Channel => Arc::new(
                    self.channel
                        .as_ref()
                        .ok_or_else(|| missing(c))?
                        .iter()
                        .map(|ch| ch.map(|ch| ch.as_str()))
                        .collect::<StringArray>(),
                ),
            };
            arrays.push(a);
        }
        RecordBatch::try_new(schema, arrays).map_err(arrow_error)
    }
}

fn u32s(v: &Option<Vec<Option<u32>>>, c: Column) -> Result<ArrayRef> {
    Ok(Arc::new(UInt32Array::from(
        v.clone().ok_or_else(|| missing(c))?,
    )))
}

/// The batches of a scan as Arrow `RecordBatch`es
/// ([`crate::Snapshot::event_record_batches`]).
pub struct RecordBatches<'s> {
    pub(crate) inner: EventBatches<'s>,
}

impl RecordBatches<'_> {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        Column::arrow_schema(self.inner.columns())
    }
}

impl Iterator for RecordBatches<'_> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        Some(self.inner.next()?.and_then(|b| b.to_record_batch()))
    }
}

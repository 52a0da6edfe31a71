//! `heatstore query heatmap|scroll --png FILE`: the report as a picture
//! (`heatstore::render`), optionally over a page screenshot.

use std::path::{Path, PathBuf};

use heatstore::query::{Heatmap, ScrollReach};
use heatstore::render::{self, RenderOptions, ScrollRenderOptions};

use crate::common::Failure;

/// The picture options of `heatstore query`.
#[derive(clap::Args, Debug, Clone)]
pub struct PictureArgs {
    /// Also write the heatmap or scroll report as a PNG picture to FILE
    /// (the report is still printed).
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
    /// A screenshot of the page (PNG) to draw the picture over, scaled to
    /// `--width`.
    #[arg(long, value_name = "FILE", requires = "png")]
    pub background: Option<PathBuf>,
    /// Width of the picture in px [default: 800 for a heatmap, 400 for a
    /// scroll map].
    #[arg(long, value_name = "PX", requires = "png")]
    pub width: Option<u32>,
    /// Page width in px that the heatmap's columns span (the screenshot's
    /// width at 1x, usually) [default: 1280].
    #[arg(long, value_name = "PX", requires = "png")]
    pub viewport_px: Option<u32>,
}

impl PictureArgs {
    /// The screenshot's bytes, if one was given.
    fn background(&self) -> Result<Option<Vec<u8>>, Failure> {
        self.background
            .as_deref()
            .map(|p| {
                std::fs::read(p).map_err(|e| {
                    Failure::new(format!("cannot read the background {}: {e}", p.display()))
                })
            })
            .transpose()
    }

    /// Draws `h` and writes it to `--png`; says where on stderr.
    pub fn heatmap(&self, h: &Heatmap) -> Result<(), Failure> {
        let Some(path) = &self.png else {
            return Ok(());
        };
        let bg = self.background()?;
        let d = RenderOptions::default();
        let opts = RenderOptions {
            width: self.width.unwrap_or(d.width),
            viewport_px: self.viewport_px.unwrap_or(d.viewport_px),
            background: bg.as_deref(),
            ..d
        };
        let png = render::heatmap_png(h, &opts).map_err(render_failure)?;
        write(path, &png)
    }

    /// Draws `s` and writes it to `--png`; says where on stderr.
    pub fn scroll(&self, s: &ScrollReach) -> Result<(), Failure> {
        let Some(path) = &self.png else {
            return Ok(());
        };
        if self.viewport_px.is_some() {
            return Err(Failure::new(
                "--viewport-px is for heatmaps: a scroll map spans the whole document",
            ));
        }
        let bg = self.background()?;
        let d = ScrollRenderOptions::default();
        let opts = ScrollRenderOptions {
            width: self.width.unwrap_or(d.width),
            background: bg.as_deref(),
            ..d
        };
        let png = render::scroll_png(s, &opts).map_err(render_failure)?;
        write(path, &png)
    }
}

fn render_failure(e: render::RenderError) -> Failure {
    Failure::new(format!("cannot draw the picture: {e}"))
}

/// Writes the picture through a temporary file beside it, so a failed
/// write leaves no half picture under the name.
fn write(path: &Path, png: &[u8]) -> Result<(), Failure> {
    let fail = |e: std::io::Error| {
        Failure::new(format!(
            "cannot write the picture to {}: {e}",
            path.display()
        ))
    };
    if path.is_dir() {
        return Err(fail(std::io::Error::other("it is a directory")));
    }
    let name = path
        .file_name()
        .ok_or_else(|| fail(std::io::Error::other("not a file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    if let Err(e) = std::fs::write(&tmp, png).and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "wrote {} ({} bytes)",
        path.display(),
        png.len()
    );
    Ok(())
}

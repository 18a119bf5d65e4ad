//! The receipt (tanda terima) of a submitted application as a one-page PDF: what was applied
//! for, where, when it was received, the due date, and the tracking code with a QR code of the
//! public tracking address, so that it can be followed from paper.
//!
//! Written with `pdf-writer` in the standard Helvetica font (no font to embed, a few kilobytes
//! for a slow network); text outside WinAnsi becomes `?`.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// What a receipt says.
pub struct Receipt<'a> {
    pub tracking_code: &'a str,
    pub service: &'a str,
    pub tenant: &'a str,
    pub mpp: &'a str,
    /// `(Indonesian, English)` label and value lines, in order.
    pub lines: &'a [(&'a str, &'a str, String)],
    /// The public tracking address the QR code holds.
    pub tracking_url: &'a str,
}

#[derive(Debug, thiserror::Error)]
#[error("the QR code cannot hold the tracking address: {0}")]
pub struct ReceiptError(String);

impl ReceiptError {
    pub(crate) fn new(why: String) -> ReceiptError {
        ReceiptError(why)
    }
}

/// The PDF's bytes.
pub fn render(receipt: &Receipt<'_>) -> Result<Vec<u8>, ReceiptError> {
    let qr = qrcode::QrCode::new(receipt.tracking_url.as_bytes())
        .map_err(|e| ReceiptError(e.to_string()))?;
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let page_id = Ref::new(3);
    let font_id = Ref::new(4);
    let bold_id = Ref::new(5);
    let content_id = Ref::new(6);
    let info_id = Ref::new(7);
    let font = Name(b"F1");
    let bold = Name(b"F2");

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    // A5 portrait: prints on A4 too, and reads on a phone.
    page.media_box(Rect::new(0.0, 0.0, 420.0, 595.0));
    page.parent(tree_id);
    page.contents(content_id);
    {
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(font, font_id);
        fonts.pair(bold, bold_id);
    }
    page.finish();
    for (id, name) in [(font_id, "Helvetica"), (bold_id, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info_id)
        .title(pdf_writer::TextStr(
            "Tanda terima permohonan / Application receipt",
        ))
        .producer(pdf_writer::TextStr("MPP Digital"));

    let mut c = Content::new();
    let mut y = 560.0;
    let text = |c: &mut Content, f: Name, size: f32, x: f32, y: f32, s: &str| {
        c.begin_text();
        c.set_font(f, size);
        c.next_line(x, y);
        c.show(Str(&win_ansi(s)));
        c.end_text();
    };
    text(&mut c, bold, 14.0, 36.0, y, "TANDA TERIMA PERMOHONAN");
    y -= 14.0;
    text(
        &mut c,
        font,
        9.0,
        36.0,
        y,
        "Application receipt · MPP Digital",
    );
    y -= 28.0;
    text(&mut c, font, 9.0, 36.0, y, "Kode pelacakan / Tracking code");
    y -= 18.0;
    text(&mut c, bold, 16.0, 36.0, y, receipt.tracking_code);
    y -= 26.0;
    for line in wrap(receipt.service, 60) {
        text(&mut c, bold, 11.0, 36.0, y, &line);
        y -= 14.0;
    }
    for line in wrap(&format!("{} · {}", receipt.tenant, receipt.mpp), 68) {
        text(&mut c, font, 10.0, 36.0, y, &line);
        y -= 13.0;
    }
    y -= 11.0;
    for (id, en, value) in receipt.lines {
        text(&mut c, font, 8.0, 36.0, y, &format!("{id} / {en}"));
        y -= 12.0;
        text(&mut c, bold, 10.0, 36.0, y, value);
        y -= 18.0;
    }

    // The QR code, 120 pt wide, with its quiet zone, at the bottom left.
    draw_qr(&mut c, &qr, 36.0, 60.0, 120.0);
    let mut note_y = 150.0;
    for line in [
        "Pindai untuk melihat status permohonan,",
        "atau buka halaman Lacak di MPP Digital.",
        "Scan to see the application's status,",
        "or open the Track page of MPP Digital.",
    ] {
        text(&mut c, font, 8.0, 170.0, note_y, line);
        note_y -= 11.0;
    }
    for line in wrap(receipt.tracking_url, 48) {
        text(&mut c, font, 7.0, 170.0, note_y - 4.0, &line);
        note_y -= 9.0;
    }

    // Uncompressed: the page is a few kilobytes.
    pdf.stream(content_id, &c.finish());
    Ok(pdf.finish())
}

/// Draws `qr` as a square `width` points wide (quiet zone included) with its lower left corner
/// at (`left`, `bottom`).
pub(crate) fn draw_qr(c: &mut Content, qr: &qrcode::QrCode, left: f32, bottom: f32, width: f32) {
    let modules = qr.width();
    let size = width / (modules as f32 + 8.0);
    c.set_fill_gray(0.0);
    for (i, color) in qr.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (col, row) = (i % modules, i / modules);
            let x = left + (col as f32 + 4.0) * size;
            let y = bottom + width - (row as f32 + 5.0) * size;
            c.rect(x, y, size, size);
        }
    }
    c.fill_nonzero();
}

/// Text in WinAnsi bytes (Latin-1 plus the typographic marks WinAnsi adds).
pub(crate) fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20}'..='\u{7e}' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '–' => 0x96,
            '—' => 0x97,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            _ => b'?',
        })
        .collect()
}

/// Lines of at most `width` characters, broken at spaces where possible.
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_is_a_pdf_with_the_code_and_a_qr() {
        let lines = [("Diterima", "Received", "30-11-2026".to_owned())];
        let bytes = render(&Receipt {
            tracking_code: "PMH-ABCD-EFGH-JKMN",
            service: "Penerbitan Akta Kelahiran",
            tenant: "Dinas Kependudukan dan Pencatatan Sipil",
            mpp: "MPP Among Warga Kota Batu",
            lines: &lines,
            tracking_url: "https://mpp.example.id/lacak?kode=PMH-ABCD-EFGH-JKMN",
        })
        .expect("pdf");
        if let Ok(path) = std::env::var("MPP_RECEIPT_OUT") {
            std::fs::write(path, &bytes).expect("write");
        }
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.ends_with(b"%%EOF") || bytes.ends_with(b"%%EOF\n"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("(PMH-ABCD-EFGH-JKMN) Tj"), "the code is text");
        assert!(text.contains(" re"), "the QR code is drawn");
        assert_eq!(
            crate::documents::sniff(&bytes),
            Some(crate::domain::form::DocumentType::Pdf)
        );
    }

    #[test]
    fn text_outside_win_ansi_is_replaced() {
        assert_eq!(win_ansi("Rp 10.000 – é ☃"), b"Rp 10.000 \x96 \xe9 ?");
        assert_eq!(wrap("satu dua tiga", 8), vec!["satu dua", "tiga"]);
    }
}

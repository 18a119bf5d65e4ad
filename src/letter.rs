//! A letter issued from a service's template (`domain::letter`) as an A4 PDF: the UPP and the
//! MPP at the top, the title, the number (the tracking code), the filled body, and at the foot
//! the day it was issued with a QR code of the public tracking address, so that anyone holding
//! the paper can check it was issued here.
//!
//! Written like the receipt (`receipt.rs`): `pdf-writer`, standard Helvetica, WinAnsi text,
//! as many pages as the body needs.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use crate::receipt::{ReceiptError, draw_qr, win_ansi};

/// What a letter says, filled.
pub struct Letter<'a> {
    pub tenant: &'a str,
    pub mpp: &'a str,
    pub title: &'a str,
    /// The filled body: paragraphs separated by blank lines.
    pub body: &'a str,
    pub tracking_code: &'a str,
    /// The day it is issued, as people read it (`30-11-2026`).
    pub issued_on: &'a str,
    pub tracking_url: &'a str,
}

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 64.0;
/// The width text may take between the margins.
const TEXT_WIDTH: f32 = WIDTH - 2.0 * MARGIN;
const LEADING: f32 = 15.0;
/// Room kept at the foot of the last page for the issue note and the QR code.
const FOOT: f32 = 170.0;

/// The PDF's bytes.
pub fn render(letter: &Letter<'_>) -> Result<Vec<u8>, ReceiptError> {
    let qr = qrcode::QrCode::new(letter.tracking_url.as_bytes())
        .map_err(|e| ReceiptError::new(e.to_string()))?;
    let font = Name(b"F1");
    let bold = Name(b"F2");
    let text = |c: &mut Content, f: Name, size: f32, x: f32, y: f32, s: &str| {
        c.begin_text();
        c.set_font(f, size);
        c.next_line(x, y);
        c.show(Str(&win_ansi(s)));
        c.end_text();
    };

    // Lay the text out over pages.
    let mut pages: Vec<Content> = vec![Content::new()];
    let mut y = HEIGHT - MARGIN;
    {
        let c = pages.last_mut().expect("a page");
        for line in wrap(letter.tenant, 12.0, true, TEXT_WIDTH) {
            text(c, bold, 12.0, MARGIN, y, &line);
            y -= 15.0;
        }
        text(c, font, 10.0, MARGIN, y, letter.mpp);
        y -= 10.0;
        c.set_line_width(0.8);
        c.move_to(MARGIN, y);
        c.line_to(WIDTH - MARGIN, y);
        c.stroke();
        y -= 34.0;
        for line in wrap(letter.title, 13.0, true, TEXT_WIDTH) {
            text(c, bold, 13.0, MARGIN, y, &line);
            y -= 17.0;
        }
        text(
            c,
            font,
            10.0,
            MARGIN,
            y,
            &format!("Nomor: {}", letter.tracking_code),
        );
        y -= 30.0;
    }
    for paragraph in letter.body.split("\n\n") {
        let lines: Vec<String> = paragraph
            .lines()
            .flat_map(|l| {
                let wrapped = wrap(l, 11.0, false, TEXT_WIDTH);
                if wrapped.is_empty() {
                    vec![String::new()]
                } else {
                    wrapped
                }
            })
            .collect();
        for line in lines {
            if y < MARGIN + LEADING {
                pages.push(Content::new());
                y = HEIGHT - MARGIN;
            }
            let c = pages.last_mut().expect("a page");
            text(c, font, 11.0, MARGIN, y, &line);
            y -= LEADING;
        }
        y -= LEADING * 0.6;
    }
    if y < MARGIN + FOOT {
        pages.push(Content::new());
    }
    {
        let c = pages.last_mut().expect("a page");
        let foot = MARGIN + 110.0;
        text(
            c,
            font,
            10.0,
            MARGIN,
            foot + 24.0,
            &format!("Diterbitkan pada {} melalui MPP Digital.", letter.issued_on),
        );
        draw_qr(c, &qr, MARGIN, MARGIN - 10.0, 110.0);
        let mut note_y = foot - 10.0;
        for line in [
            "Pindai untuk memeriksa bahwa surat ini",
            "diterbitkan untuk permohonan tersebut.",
            "Scan to check this letter was issued",
            "for that application.",
        ] {
            text(c, font, 8.0, MARGIN + 124.0, note_y, line);
            note_y -= 11.0;
        }
        for line in wrap(letter.tracking_url, 7.0, false, TEXT_WIDTH - 124.0) {
            text(c, font, 7.0, MARGIN + 124.0, note_y - 4.0, &line);
            note_y -= 9.0;
        }
    }

    // Objects: catalog, page tree, fonts, info, then each page and its content.
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let font_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let page_ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| {
            let base = 6 + 2 * i32::try_from(i).unwrap_or(0);
            (Ref::new(base), Ref::new(base + 1))
        })
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|(p, _)| *p))
        .count(i32::try_from(page_ids.len()).unwrap_or(1));
    for (&(page_id, content_id), content) in page_ids.iter().zip(pages) {
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree_id);
        page.contents(content_id);
        {
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(font, font_id);
            fonts.pair(bold, bold_id);
        }
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    for (id, name) in [(font_id, "Helvetica"), (bold_id, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info_id)
        .title(pdf_writer::TextStr(letter.title))
        .producer(pdf_writer::TextStr("MPP Digital"));
    Ok(pdf.finish())
}

/// A glyph's width in thousandths of the size, at most what Helvetica's metrics give for its
/// class (capitals up to M and W are wider; taking the class's upper end keeps lines inside).
fn glyph_width(c: char, bold: bool) -> f32 {
    let w = match c {
        ' ' => 278.0,
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '!' | '|' => 280.0,
        'f' | 't' | 'r' | 'I' | '(' | ')' | '-' | '/' => 390.0,
        'm' | 'w' => 890.0,
        'M' | 'W' => 950.0,
        'a'..='z' => 611.0,
        '0'..='9' => 556.0,
        'A'..='Z' => 778.0,
        _ => 1000.0,
    };
    if bold { w * 1.06 } else { w }
}

/// The width of `s` in points at `size`.
fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    s.chars().map(|c| glyph_width(c, bold)).sum::<f32>() * size / 1000.0
}

/// Lines of `s` that fit in `width` points at `size`, broken at spaces, and inside a word too
/// long for a line.
fn wrap(s: &str, size: f32, bold: bool, width: f32) -> Vec<String> {
    let fits = |t: &str| text_width(t, size, bold) <= width;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let joined = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than a line is cut where it reaches the edge.
        for c in word.chars() {
            line.push(c);
            if !fits(&line) {
                line.pop();
                lines.push(std::mem::take(&mut line));
                line.push(c);
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(body: &str) -> Vec<u8> {
        render(&Letter {
            tenant: "Dinas Kependudukan dan Pencatatan Sipil",
            mpp: "MPP Among Warga Kota Batu",
            title: "SURAT KETERANGAN KELAHIRAN",
            body,
            tracking_code: "PMH-ABCD-EFGH-JKMN",
            issued_on: "30-11-2026",
            tracking_url: "https://mpp.example.id/lacak?kode=PMH-ABCD-EFGH-JKMN",
        })
        .expect("pdf")
    }

    #[test]
    fn a_letter_is_a_pdf_with_its_text_and_a_qr() {
        let bytes = letter("Menerangkan bahwa Laras lahir di Kota Batu.\n\nDemikian surat ini.");
        if let Ok(path) = std::env::var("MPP_LETTER_OUT") {
            std::fs::write(path, &bytes).expect("write");
        }
        assert_eq!(
            crate::documents::sniff(&bytes),
            Some(crate::domain::form::DocumentType::Pdf)
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("(Menerangkan bahwa Laras lahir di Kota Batu.) Tj"));
        assert!(text.contains("(Nomor: PMH-ABCD-EFGH-JKMN) Tj"));
        assert!(text.contains(" re"), "the QR code is drawn");
        assert!(text.contains("/Count 1"), "one page");
    }

    #[test]
    fn lines_stay_between_the_margins() {
        let title =
            "SURAT KETERANGAN PERSETUJUAN PEMBANGUNAN GEDUNG DAN MENARA TELEKOMUNIKASI WILAYAH";
        let lines = wrap(title, 13.0, true, TEXT_WIDTH);
        assert!(lines.len() >= 2, "{lines:?}");
        for line in &lines {
            assert!(text_width(line, 13.0, true) <= TEXT_WIDTH, "{line}");
        }
        let word = "W".repeat(200);
        let cut = wrap(&word, 11.0, false, TEXT_WIDTH);
        assert!(
            cut.len() > 1 && cut.concat() == word,
            "a long word is cut, not lost"
        );
        assert!(cut.iter().all(|l| text_width(l, 11.0, false) <= TEXT_WIDTH));
        assert_eq!(wrap("satu dua", 11.0, false, TEXT_WIDTH), vec!["satu dua"]);
    }

    #[test]
    fn a_long_letter_takes_more_pages() {
        let body =
            vec!["Baris yang panjang sekali untuk mengisi halaman surat ini, dengan NAMA PEMOHON DALAM HURUF BESAR SEMUA."; 60].join("\n");
        let bytes = letter(&body);
        if let Ok(path) = std::env::var("MPP_LONG_LETTER_OUT") {
            std::fs::write(path, &bytes).expect("write");
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert!(text.contains("/Count 3"), "three pages");
    }
}

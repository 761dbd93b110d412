//! The focus ring stands out (WCAG 1.4.11: at least 3:1 against what surrounds it), computed
//! from the app's own stylesheet: the page, and the blue header where the language list sits.

fn stylesheet() -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/style.css")).unwrap()
}

/// The first `#rrggbb` after `selector {` and `property:` in the stylesheet.
fn colour(css: &str, selector: &str, property: &str) -> [f64; 3] {
    let rule = css.split(&format!("\n{selector} {{")).nth(1).unwrap_or_else(|| panic!("no rule {selector}"));
    let rule = rule.split('}').next().unwrap();
    let value = rule.split(&format!("{property}:")).nth(1).unwrap_or_else(|| panic!("no {property} in {selector}"));
    let hex = value.split('#').nth(1).unwrap_or_else(|| panic!("no colour in {selector} {property}"));
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
    [channel(0), channel(2), channel(4)]
}

/// WCAG 2 relative luminance and contrast ratio.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let lum = |c: [f64; 3]| {
        let lin = |v: f64| if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

#[test]
fn the_focus_ring_has_3_to_1_against_the_page_and_the_header() {
    let css = stylesheet();
    let ring = colour(&css, ":focus-visible", "outline");
    let page = colour(&css, "body", "background");
    let header_ring = colour(&css, "header :focus-visible", "outline-color");
    let header = colour(&css, "header", "background");
    let on_page = contrast(ring, page);
    let on_header = contrast(header_ring, header);
    println!("focus ring: {on_page:.2}:1 on the page, {on_header:.2}:1 on the header");
    assert!(on_page >= 3.0, "the focus ring has {on_page:.2}:1 against the page");
    assert!(on_header >= 3.0, "the focus ring has {on_header:.2}:1 against the header");
    // The old amber ring fails the same computation: the check can fail.
    assert!(contrast([0xf5 as f64 / 255.0, 0x9e as f64 / 255.0, 0x0b as f64 / 255.0], page) < 3.0);
}

//! A bounded XML reader that turns a device's answer into a small element tree.
//!
//! Why a tree: ONVIF answers are small (kilobytes), and walking a tree by local names is far
//! easier to get right across camera firmwares than streaming state machines. Why bounded: the
//! bytes come from the network, often from cheap firmware, sometimes from someone hostile.
//!
//! Rules:
//! - elements and attributes are matched by **local name**; prefixes vary by vendor;
//! - the whole document must be UTF-8 (an encoding declaration naming anything else is refused);
//! - any DOCTYPE is refused, so no entity definitions can exist; references to undefined
//!   entities fail in quick-xml's unescaper (only the five predefined ones and character
//!   references are expanded);
//! - size, nesting depth and element count are capped ([`XmlLimits`]).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::error::XmlError;

/// Caps applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting accepted.
    pub max_depth: usize,
    /// Most elements accepted in one document.
    pub max_elements: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
            max_elements: 100_000,
        }
    }
}

/// One element: local name, attributes by local name, direct text, children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (prefix removed).
    pub name: String,
    /// Namespace URI the prefix resolved to (empty when unbound or undeclared: some firmwares
    /// use prefixes they never declare, and we still read them).
    pub ns: String,
    /// Attributes as (local name, unescaped value); `xmlns` declarations are dropped.
    pub attrs: Vec<(String, String)>,
    /// Text directly inside this element (all text and CDATA pieces joined).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
}

impl Element {
    /// First child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Follows a path of local names from this element's children.
    pub fn path(&self, names: &[&str]) -> Option<&Element> {
        let mut cur = self;
        for n in names {
            cur = cur.child(n)?;
        }
        Some(cur)
    }

    /// Trimmed text at the end of a path, if present and non-empty.
    pub fn text_at(&self, names: &[&str]) -> Option<&str> {
        let t = self.path(names)?.text.trim();
        if t.is_empty() { None } else { Some(t) }
    }

    /// Trimmed text of this element.
    pub fn trimmed(&self) -> &str {
        self.text.trim()
    }

    /// Attribute value by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First element with this local name, depth first, including `self`.
    pub fn find(&self, name: &str) -> Option<&Element> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    /// All descendants (not `self`) with this local name, depth first.
    pub fn find_all<'a>(&'a self, name: &str, out: &mut Vec<&'a Element>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.find_all(name, out);
        }
    }
}

fn local(name: &[u8]) -> Result<String, XmlError> {
    let local = match name.iter().rposition(|&b| b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or(name),
        None => name,
    };
    std::str::from_utf8(local)
        .map(str::to_owned)
        .map_err(|_| XmlError::Encoding("element name is not UTF-8".into()))
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Parses a whole document into its root element, within `limits`.
pub fn parse(bytes: &[u8], limits: &XmlLimits) -> Result<Element, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(XmlError::Encoding("UTF-16 is not supported".into()));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| XmlError::Encoding(format!("not valid UTF-8 ({e})")))?;

    let mut reader = NsReader::from_str(text);
    let cfg = reader.config_mut();
    cfg.trim_text(false);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;

    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match resolved {
            ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
            _ => String::new(),
        };
        match event {
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(malformed)?;
                    let enc = String::from_utf8_lossy(&enc).to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" && enc != "us-ascii" && enc != "ascii" {
                        return Err(XmlError::Encoding(format!("declared encoding {enc:?}")));
                    }
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(s) | Event::Empty(s) if root.is_some() => {
                let _ = s;
                return Err(XmlError::Malformed("content after the root element".into()));
            }
            Event::Start(s) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                stack.push(element_from(&s, ns)?);
            }
            Event::Empty(s) => {
                count += 1;
                if count > limits.max_elements {
                    return Err(XmlError::TooManyElements {
                        limit: limits.max_elements,
                    });
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::TooDeep {
                        limit: limits.max_depth,
                    });
                }
                let el = element_from(&s, ns)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| XmlError::Malformed("unexpected end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(malformed)?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => {
                        if !s.trim().is_empty() {
                            return Err(XmlError::Malformed(
                                "text outside the root element".into(),
                            ));
                        }
                    }
                }
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let s = std::str::from_utf8(&raw)
                    .map_err(|_| XmlError::Encoding("CDATA is not UTF-8".into()))?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(s);
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Truncated);
    }
    root.ok_or(XmlError::Truncated)
}

fn element_from(s: &quick_xml::events::BytesStart<'_>, ns: String) -> Result<Element, XmlError> {
    let name = local(s.name().as_ref())?;
    let mut attrs = Vec::new();
    for a in s.attributes().with_checks(true) {
        let a = a.map_err(malformed)?;
        let key = a.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        if attrs.len() >= 256 {
            return Err(XmlError::Malformed("too many attributes".into()));
        }
        let value = a.unescape_value().map_err(malformed)?.into_owned();
        attrs.push((local(key)?, value));
    }
    Ok(Element {
        name,
        ns,
        attrs,
        text: String::new(),
        children: Vec::new(),
    })
}

/// Writes `el` back as XML, each element with its own namespace declaration, so it can be
/// echoed to the device (WS-Addressing reference parameters).
pub fn serialize(el: &Element, out: &mut String) {
    let qname = if el.ns.is_empty() {
        el.name.clone()
    } else {
        format!("rp:{}", el.name)
    };
    out.push('<');
    out.push_str(&qname);
    if !el.ns.is_empty() {
        out.push_str(&format!(" xmlns:rp=\"{}\"", escape(&el.ns)));
    }
    for (k, v) in &el.attrs {
        out.push_str(&format!(" {}=\"{}\"", k, escape(v)));
    }
    out.push('>');
    out.push_str(&escape(&el.text));
    for c in &el.children {
        serialize(c, out);
    }
    out.push_str("</");
    out.push_str(&qname);
    out.push('>');
}

/// Escapes text for inclusion in XML element content or attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Element, XmlError> {
        parse(s.as_bytes(), &XmlLimits::default())
    }

    #[test]
    fn local_names_and_attrs() {
        let e = p(r#"<?xml version="1.0" encoding="UTF-8"?><a:Root xmlns:a="urn:x" b:k="v &amp; w"><x:Child>  hi &lt;3 </x:Child><Child/><![CDATA[<raw>]]></a:Root>"#).unwrap();
        assert_eq!(e.name, "Root");
        assert_eq!(e.attr("k"), Some("v & w"));
        assert_eq!(e.text_at(&["Child"]), Some("hi <3"));
        assert_eq!(e.children_named("Child").count(), 2);
        assert!(e.text.contains("<raw>"));
    }

    #[test]
    fn truncated_is_an_error() {
        assert_eq!(p("<a><b>text</b>"), Err(XmlError::Truncated));
        assert_eq!(p(""), Err(XmlError::Truncated));
        assert!(p("<a><b>te").is_err());
        assert!(p("<a><b></a>").is_err());
    }

    #[test]
    fn doctype_and_entity_bomb_refused() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"#;
        assert_eq!(p(bomb), Err(XmlError::Doctype));
        // Without a DOCTYPE an undefined entity is not expanded: it is an error.
        assert!(matches!(p("<a>&lol3;</a>"), Err(XmlError::Malformed(_))));
        // External entity attempt.
        let xxe = r#"<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>"#;
        assert_eq!(p(xxe), Err(XmlError::Doctype));
    }

    #[test]
    fn deep_nesting_bounded() {
        let depth = 10_000;
        let s = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        assert_eq!(p(&s), Err(XmlError::TooDeep { limit: 64 }));
    }

    #[test]
    fn element_count_bounded() {
        let limits = XmlLimits {
            max_elements: 100,
            ..XmlLimits::default()
        };
        let s = format!("<a>{}</a>", "<b/>".repeat(200));
        assert_eq!(
            parse(s.as_bytes(), &limits),
            Err(XmlError::TooManyElements { limit: 100 })
        );
    }

    #[test]
    fn size_bounded_before_parsing() {
        let limits = XmlLimits {
            max_bytes: 1024,
            ..XmlLimits::default()
        };
        let s = format!("<a>{}</a>", "x".repeat(2000));
        assert!(matches!(
            parse(s.as_bytes(), &limits),
            Err(XmlError::TooLarge { limit: 1024, .. })
        ));
    }

    #[test]
    fn wrong_encodings_refused() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>";
        assert!(matches!(
            parse(latin1, &XmlLimits::default()),
            Err(XmlError::Encoding(_))
        ));
        let decl_only = r#"<?xml version="1.0" encoding="windows-1252"?><a>x</a>"#;
        assert!(matches!(p(decl_only), Err(XmlError::Encoding(_))));
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<a/>".encode_utf16().flat_map(|u| u.to_le_bytes()))
            .collect();
        assert!(matches!(
            parse(&utf16, &XmlLimits::default()),
            Err(XmlError::Encoding(_))
        ));
        // UTF-8 BOM is fine.
        assert!(parse(b"\xEF\xBB\xBF<a/>", &XmlLimits::default()).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "<",
            "<<<<",
            "</a>",
            "<a b=>",
            "<a b='1' b='2'/>",
            "<?xml",
            "<a><!-- </a>",
            "<a>&#xFFFFFFFF;</a>",
            "<a/><b/>",
            "text",
        ] {
            assert!(p(s).is_err(), "{s}");
        }
    }

    #[test]
    fn namespaces_resolved_and_serialized() {
        let e = p(r#"<a:R xmlns:a="urn:a"><b:Id xmlns:b="urn:b" k="1">x&amp;y</b:Id><u:N>undeclared</u:N></a:R>"#).unwrap();
        assert_eq!(e.ns, "urn:a");
        let id = e.child("Id").unwrap();
        assert_eq!(id.ns, "urn:b");
        assert_eq!(e.text_at(&["N"]), Some("undeclared"));
        let mut out = String::new();
        serialize(id, &mut out);
        assert_eq!(out, r#"<rp:Id xmlns:rp="urn:b" k="1">x&amp;y</rp:Id>"#);
        assert_eq!(&p(&out).unwrap(), id);
    }

    #[test]
    fn escape_roundtrip() {
        let e = p(&format!(
            "<a k=\"{}\">{}</a>",
            escape("\"<&>'"),
            escape("<&>")
        ))
        .unwrap();
        assert_eq!(e.attr("k"), Some("\"<&>'"));
        assert_eq!(e.text, "<&>");
    }
}

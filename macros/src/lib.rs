//! `include_model!`: compiles a `.tflite` model into Rust while the calling crate builds.
//!
//! Use it through `mvcc-runtime` with the `macros` feature (`mvcc_runtime::include_model!`); the
//! expansion refers to `mvcc_runtime` paths.
//!
//! ```ignore
//! mod face {
//!     mvcc_runtime::include_model!("models/face_detection_short_range.tflite");
//! }
//! ```
//!
//! The path is relative to the calling crate's root (`CARGO_MANIFEST_DIR`); when no file is
//! there, relative to the file calling the macro (as `include_bytes!` resolves). The expansion is
//! the code of `mvcc::rust` (a `Model` type, `run_in`, I/O constants, `ARENA_BYTES`), with the
//! weights as one byte-string literal and an `include_bytes!` of the model that makes Cargo
//! rebuild when the file changes. Options follow the path: `trace` also generates `run_traced`;
//! `input_shapes = [[1, 224, 224, 3]]` fixes the shapes of inputs with dynamic dimensions (`_`
//! keeps an input's shape from the file); `nnapi` (or `nnapi = 30` for an API level other than 29)
//! also embeds the model's NNAPI partition and gives `Model` `set_target` and `accelerator`
//! (see `mvcc_runtime::nnapi`); with it, `nnapi_max_segments = N` keeps at most `N` NNAPI segments
//! (default 3, 0 for no limit).
//! A model that does not compile expands to a `compile_error!` at the path literal listing every
//! problem.
#![warn(missing_docs)]

use proc_macro::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};

/// Compiles a `.tflite` model into Rust items. See the crate docs.
#[proc_macro]
pub fn include_model(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(ts) => ts,
        Err((span, msg)) => compile_error(span, &msg),
    }
}

fn compile_error(span: Span, msg: &str) -> TokenStream {
    let mut lit = Literal::string(msg);
    lit.set_span(span);
    let mut group = Group::new(Delimiter::Parenthesis, TokenTree::Literal(lit).into());
    group.set_span(span);
    let mut bang = Punct::new('!', Spacing::Alone);
    bang.set_span(span);
    let mut semi = Punct::new(';', Spacing::Alone);
    semi.set_span(span);
    [
        TokenTree::Ident(Ident::new("compile_error", span)),
        TokenTree::Punct(bang),
        TokenTree::Group(group),
        TokenTree::Punct(semi),
    ]
    .into_iter()
    .collect()
}

/// Flattens invisible groups (a `$path:literal` passed through `macro_rules!`).
fn flatten(input: TokenStream) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for t in input {
        match t {
            TokenTree::Group(g) if g.delimiter() == Delimiter::None => {
                out.extend(flatten(g.stream()))
            }
            t => out.push(t),
        }
    }
    out
}

/// The value of a string literal token (`"…"` with the common escapes, or a raw string).
fn string_value(lit: &Literal) -> Option<String> {
    let s = lit.to_string();
    if let Some(raw) = s.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let inner = raw.get(hashes + 1..raw.len().checked_sub(hashes + 1)?)?;
        return Some(inner.to_string());
    }
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            _ => return None,
        }
    }
    Some(out)
}

fn expand(input: TokenStream) -> Result<TokenStream, (Span, String)> {
    let tokens = flatten(input);
    let usage = "usage: include_model!(\"path/to/model.tflite\"), with options after the path: \
                 `trace`, `input_shapes = [[1, 224, 224, 3], ...]`, `nnapi` or `nnapi = 30`, \
                 `nnapi_max_segments = 3` (0: no limit)";
    let Some(TokenTree::Literal(lit)) = tokens.first() else {
        return Err((Span::call_site(), usage.into()));
    };
    let span = lit.span();
    let rel = string_value(lit).ok_or((span, usage.to_string()))?;
    let mut trace = false;
    let mut nnapi = None;
    let mut max_segments = None;
    let mut input_shapes = Vec::new();
    let mut rest = tokens[1..].iter();
    while let Some(t) = rest.next() {
        match t {
            TokenTree::Punct(p) if p.as_char() == ',' => {}
            TokenTree::Ident(i) if i.to_string() == "trace" => trace = true,
            TokenTree::Ident(i) if i.to_string() == "nnapi" => {
                nnapi = Some(mvcc::nnapi::partition::DEFAULT_API_LEVEL);
                let mut look = rest.clone();
                if let Some(TokenTree::Punct(p)) = look.next() {
                    if p.as_char() == '=' {
                        let level = match look.next() {
                            Some(TokenTree::Literal(l)) => l.to_string().parse::<u32>().ok(),
                            _ => None,
                        };
                        match level {
                            Some(n) if (27..=35).contains(&n) => nnapi = Some(n),
                            _ => {
                                return Err((
                                    i.span(),
                                    format!("expected `nnapi = <API level 27..=35>`; {usage}"),
                                ))
                            }
                        }
                        rest = look;
                    }
                }
            }
            TokenTree::Ident(i) if i.to_string() == "nnapi_max_segments" => {
                match (rest.next(), rest.next()) {
                    (Some(TokenTree::Punct(p)), Some(TokenTree::Literal(l)))
                        if p.as_char() == '=' && l.to_string().parse::<usize>().is_ok() =>
                    {
                        max_segments = l.to_string().parse::<usize>().ok();
                    }
                    _ => {
                        return Err((
                            i.span(),
                            format!("expected `nnapi_max_segments = <count>`; {usage}"),
                        ))
                    }
                }
            }
            TokenTree::Ident(i) if i.to_string() == "input_shapes" => {
                let eq = rest.next();
                let value = rest.next();
                match (eq, value) {
                    (Some(TokenTree::Punct(p)), Some(TokenTree::Group(g)))
                        if p.as_char() == '=' && g.delimiter() == Delimiter::Bracket =>
                    {
                        input_shapes =
                            parse_shapes(g).map_err(|(sp, m)| (sp, format!("{m}; {usage}")))?;
                    }
                    _ => {
                        return Err((
                            i.span(),
                            format!("expected `input_shapes = [[...], ...]`; {usage}"),
                        ))
                    }
                }
            }
            other => return Err((other.span(), format!("unexpected `{other}`; {usage}"))),
        }
    }
    if max_segments.is_some() && nnapi.is_none() {
        return Err((span, format!("`nnapi_max_segments` needs `nnapi`; {usage}")));
    }
    let path = resolve(&rel, span).ok_or_else(|| {
        (
            span,
            format!(
                "mvcc: cannot find `{rel}` (looked relative to the crate root, CARGO_MANIFEST_DIR, \
                 and to the file calling include_model!)"
            ),
        )
    })?;
    let bytes =
        std::fs::read(&path).map_err(|e| (span, format!("mvcc: cannot read `{rel}`: {e}")))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    let opts = mvcc::rust::Options {
        name: mvcc::rust::model_name(stem),
        source: rel.clone(),
        weights: mvcc::rust::WeightsForm::Placeholder,
        trace,
        input_shapes,
        nnapi: nnapi.map(|level| {
            let mut o = mvcc::nnapi::partition::Options::new(level);
            if let Some(n) = max_segments {
                o.max_segments = n;
            }
            o
        }),
    };
    let generated = mvcc::rust::compile(&bytes, &opts).map_err(|e| {
        let lines: Vec<String> = e.problems.iter().map(|p| format!("  {p}")).collect();
        (
            span,
            format!(
                "mvcc: `{rel}` does not compile: {} problem(s):\n{}",
                lines.len(),
                lines.join("\n")
            ),
        )
    })?;
    let code: TokenStream = generated.code.parse().map_err(|e| {
        (
            span,
            format!("mvcc: generated code does not parse (a bug): {e}"),
        )
    })?;
    let weights = Literal::byte_string(&generated.weights);
    let mut out = replace_placeholder(code, &weights);
    // Cargo rebuilds the crate when a file read by `include_bytes!` changes; the constant is
    // unused and takes no space in the binary.
    let track = format!(
        "const _: &[u8] = include_bytes!({:?});",
        path.display().to_string()
    );
    out.extend(
        track
            .parse::<TokenStream>()
            .map_err(|e| (span, e.to_string()))?,
    );
    Ok(out)
}

/// `[[1, 8, 8, 3], _, ...]`: one shape per input, `_` for the file's.
fn parse_shapes(g: &Group) -> Result<Vec<Option<Vec<usize>>>, (Span, String)> {
    let mut shapes = Vec::new();
    for t in flatten(g.stream()) {
        match t {
            TokenTree::Punct(p) if p.as_char() == ',' => {}
            TokenTree::Ident(i) if i.to_string() == "_" => shapes.push(None),
            TokenTree::Group(inner) if inner.delimiter() == Delimiter::Bracket => {
                let mut dims = Vec::new();
                for d in flatten(inner.stream()) {
                    match d {
                        TokenTree::Punct(p) if p.as_char() == ',' => {}
                        TokenTree::Literal(l) => {
                            match l.to_string().trim_end_matches("usize").parse() {
                                Ok(v) => dims.push(v),
                                Err(_) => {
                                    return Err((l.span(), format!("`{l}` is not a dimension")))
                                }
                            }
                        }
                        other => {
                            return Err((other.span(), format!("`{other}` is not a dimension")))
                        }
                    }
                }
                shapes.push(Some(dims));
            }
            other => return Err((other.span(), format!("`{other}` is not a shape"))),
        }
    }
    Ok(shapes)
}

/// The model file: `rel` against `CARGO_MANIFEST_DIR` (the documented rule), else against the
/// directory of the file holding the macro call (as `include_bytes!` resolves).
fn resolve(rel: &str, span: Span) -> Option<std::path::PathBuf> {
    let rel = std::path::Path::new(rel);
    if rel.is_absolute() {
        return rel.is_file().then(|| rel.to_path_buf());
    }
    let from_root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(|r| std::path::PathBuf::from(r).join(rel))
        .filter(|p| p.is_file());
    from_root.or_else(|| {
        let file = span.local_file()?;
        let p = file.parent()?.join(rel);
        p.is_file().then_some(p)
    })
}

fn replace_placeholder(ts: TokenStream, weights: &Literal) -> TokenStream {
    ts.into_iter()
        .map(|t| match t {
            TokenTree::Ident(i) if i.to_string() == mvcc::rust::WEIGHTS_PLACEHOLDER => {
                TokenTree::Literal(weights.clone())
            }
            TokenTree::Group(g) => {
                let mut n = Group::new(g.delimiter(), replace_placeholder(g.stream(), weights));
                n.set_span(g.span());
                TokenTree::Group(n)
            }
            t => t,
        })
        .collect()
}

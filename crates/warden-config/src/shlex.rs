//! The two `shlex` dialects supervisord relies on:
//! - [`split`]: `shlex.split(command)` (POSIX mode), used to build argv;
//! - [`key_value_pairs`]: `dict_of_key_value_pairs`, which uses a
//!   non-POSIX `shlex.shlex` lexer for `environment=` values.

/// Why a command could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShlexError {
    /// A quote was not closed.
    #[error("No closing quotation")]
    NoClosingQuotation,
    /// A backslash ended the input.
    #[error("No escaped character")]
    NoEscapedCharacter,
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `shlex.split(s)` (POSIX, no comments).
pub fn split(s: &str) -> Result<Vec<String>, ShlexError> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Space,
        Word,
        Quote(char),
        Escape(char),
    }
    let mut out = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    let mut state = St::Space;
    let mut chars = s.chars();
    loop {
        let next = chars.next();
        match state {
            St::Space => match next {
                None => break,
                Some(c) if is_ws(c) => {
                    if !token.is_empty() || quoted {
                        out.push(std::mem::take(&mut token));
                        quoted = false;
                    }
                }
                Some('\\') => state = St::Escape('a'),
                Some(c @ ('\'' | '"')) => state = St::Quote(c),
                Some(c) => {
                    token.push(c);
                    state = St::Word;
                }
            },
            St::Quote(q) => {
                quoted = true;
                match next {
                    None => return Err(ShlexError::NoClosingQuotation),
                    Some(c) if c == q => state = St::Word,
                    Some('\\') if q == '"' => state = St::Escape(q),
                    Some(c) => token.push(c),
                }
            }
            St::Escape(esc) => match next {
                None => return Err(ShlexError::NoEscapedCharacter),
                Some(c) => {
                    if esc != 'a' && c != '\\' && c != esc {
                        token.push('\\');
                    }
                    token.push(c);
                    state = if esc == 'a' { St::Word } else { St::Quote(esc) };
                }
            },
            St::Word => match next {
                None => break,
                Some(c) if is_ws(c) => {
                    state = St::Space;
                    if !token.is_empty() || quoted {
                        out.push(std::mem::take(&mut token));
                        quoted = false;
                    }
                }
                Some(c @ ('\'' | '"')) => state = St::Quote(c),
                Some('\\') => state = St::Escape('a'),
                Some(c) => token.push(c),
            },
        }
    }
    if !token.is_empty() || quoted {
        out.push(token);
    }
    Ok(out)
}

fn is_wordchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_/.+-():".contains(c)
}

/// Tokens of a non-POSIX `shlex.shlex` with supervisord's extra wordchars.
fn nonposix_tokens(s: &str) -> Result<Vec<String>, ShlexError> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let n = chars.len();
    // Skip to end of line for a '#' comment.
    let skip_comment = |i: &mut usize| {
        while *i < n && chars[*i] != '\n' {
            *i += 1;
        }
        if *i < n {
            *i += 1;
        }
    };
    while i < n {
        let c = chars[i];
        if is_ws(c) {
            i += 1;
        } else if c == '#' {
            skip_comment(&mut i);
        } else if is_wordchar(c) {
            let mut tok = String::new();
            tok.push(c);
            i += 1;
            while i < n {
                let d = chars[i];
                if is_ws(d) {
                    i += 1;
                    break;
                } else if d == '#' {
                    skip_comment(&mut i);
                } else if is_wordchar(d) || d == '\'' || d == '"' {
                    tok.push(d);
                    i += 1;
                } else {
                    // punctuation ends the word and becomes its own token
                    break;
                }
            }
            out.push(tok);
        } else if c == '\'' || c == '"' {
            let mut tok = String::new();
            tok.push(c);
            i += 1;
            loop {
                if i >= n {
                    return Err(ShlexError::NoClosingQuotation);
                }
                let d = chars[i];
                tok.push(d);
                i += 1;
                if d == c {
                    break;
                }
            }
            out.push(tok);
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    Ok(out)
}

/// supervisord's `dict_of_key_value_pairs`: `K="v",K2=v2` into ordered pairs
/// (a repeated key keeps its first position and takes the last value).
pub fn key_value_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let tokens = nonposix_tokens(s).map_err(|e| e.to_string())?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let kv = &tokens[i..(i + 3).min(tokens.len())];
        if kv.len() != 3 || kv[1] != "=" {
            return Err(format!(
                "Unexpected end of key/value pairs in value {}",
                crate::expand::repr(s)
            ));
        }
        let v = kv[2].trim_matches(['\'', '"']).to_string();
        match out.iter_mut().find(|(k, _)| *k == kv[0]) {
            Some(slot) => slot.1 = v,
            None => out.push((kv[0].clone(), v)),
        }
        i += 4;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(s: &str) -> Vec<String> {
        split(s).unwrap()
    }

    #[test]
    fn posix_split() {
        assert_eq!(sp("/bin/echo a  b"), ["/bin/echo", "a", "b"]);
        assert_eq!(sp(r#"sh -c "echo 'x y'""#), ["sh", "-c", "echo 'x y'"]);
        assert_eq!(sp(r#"a "" ''"#), ["a", "", ""]);
        assert_eq!(
            sp(r#"a\ b "c\"d" 'e\f' "g\h""#),
            ["a b", "c\"d", "e\\f", "g\\h"]
        );
        assert_eq!(sp(r#"x"y"z"#), ["xyz"]);
        assert_eq!(sp("a#b"), ["a#b"]);
        assert_eq!(sp(""), Vec::<String>::new());
        assert_eq!(split("'open"), Err(ShlexError::NoClosingQuotation));
        assert_eq!(split("a\\"), Err(ShlexError::NoEscapedCharacter));
    }

    fn kv(s: &str) -> Vec<(String, String)> {
        key_value_pairs(s).unwrap()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn environment_pairs() {
        assert_eq!(
            kv(r#"A="1,2",B=x/y.z,C='q'"#),
            pairs(&[("A", "1,2"), ("B", "x/y.z"), ("C", "q")])
        );
        assert_eq!(kv(""), pairs(&[]));
        // a space ends the value; the next token is swallowed as the separator
        assert_eq!(kv("A=a b"), pairs(&[("A", "a")]));
        assert_eq!(kv("A=1;B=2"), pairs(&[("A", "1"), ("B", "2")]));
        assert_eq!(kv("A=1,A=2"), pairs(&[("A", "2")]));
        assert!(key_value_pairs("A=1 B=2").is_err());
        // verified against supervisord 4.3.0's dict_of_key_value_pairs
        assert_eq!(kv("A=$x"), pairs(&[("A", "$")]));
        assert_eq!(kv("A=\u{e9}"), pairs(&[("A", "\u{e9}")]));
        assert!(key_value_pairs("K=v#c\nB=2").is_err());
        assert!(key_value_pairs("A=\"x").is_err());
        assert_eq!(kv("A=x\"y z\""), pairs(&[("A", "x\"y")]));
    }
}

//! `--annotate`: the file with `# E1,D1` labels on offending lines and
//! footers listing the messages, laid out as upstream prints them.

use crate::problems::Problem;
use ci_yaml::Marks;
use std::collections::BTreeMap;

/// The annotated text (without the final newline `print` adds).
pub fn annotate(
    content: &str,
    marks: &Marks,
    errors: &[Problem],
    deprecations: &[Problem],
) -> String {
    if errors.is_empty() && deprecations.is_empty() {
        return content.to_string();
    }
    let errors_by_line = by_line(errors, marks);
    let deprecations_by_line = by_line(deprecations, marks);
    let mut out: Vec<String> = Vec::new();
    let (mut error_footer, mut deprecation_footer) = (Vec::new(), Vec::new());
    let (mut e_index, mut d_index) = (1, 1);
    for (n, line) in content.split('\n').enumerate() {
        let errs = errors_by_line
            .get(&(n + 1))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let deps = deprecations_by_line
            .get(&(n + 1))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if errs.is_empty() && deps.is_empty() {
            out.push(line.to_string());
            continue;
        }
        let mut labels = Vec::new();
        e_index = add_labels(errs, "E", e_index, &mut labels, &mut error_footer);
        d_index = add_labels(deps, "D", d_index, &mut labels, &mut deprecation_footer);
        out.push(format!("{line}\t\t# {}", labels.join(",")));
    }
    for (title, footer) in [
        ("Errors", error_footer),
        ("Deprecations", deprecation_footer),
    ] {
        if !footer.is_empty() {
            out.push(format!(
                "# {title}: -------------\n{}\n\n",
                footer.join("\n")
            ));
        }
    }
    out.join("\n")
}

fn add_labels(
    problems: &[&str],
    prefix: &str,
    mut index: usize,
    labels: &mut Vec<String>,
    footer: &mut Vec<String>,
) -> usize {
    for p in problems {
        let label = format!("{prefix}{index}");
        footer.push(format!("# {label}: {p}"));
        labels.push(label);
        index += 1;
    }
    index
}

fn by_line<'p>(problems: &'p [Problem], marks: &Marks) -> BTreeMap<usize, Vec<&'p str>> {
    let mut map: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for p in problems {
        map.entry(line_of(&p.path, marks))
            .or_default()
            .push(p.message.as_str());
    }
    map
}

/// `format-lL.cC` paths carry their line; others are looked up in the YAML
/// marks. Upstream crashes on a path without a mark (an error about a whole
/// list or the document); we use the nearest marked parent, else line 1.
fn line_of(path: &str, marks: &Marks) -> usize {
    locate(path, marks).0
}

/// (line, column) of a problem path, both 1-based, by the rules of
/// [`line_of`].
pub(crate) fn locate(path: &str, marks: &Marks) -> (usize, usize) {
    if let Some(pos) = format_mark(path) {
        return pos;
    }
    let mut p = path;
    loop {
        if let Some(pos) = marks.get(p) {
            return *pos;
        }
        match p.rfind('.') {
            Some(i) => p = p.get(..i).unwrap_or(""),
            None => return (1, 1),
        }
    }
}

fn format_mark(path: &str) -> Option<(usize, usize)> {
    let rest = path.strip_prefix("format-l")?;
    let (line, rest) = rest.split_once(".c")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() || line.is_empty() || !line.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((line.parse().ok()?, digits.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_footers() {
        let mut marks = Marks::new();
        marks.insert("hostname".into(), (2, 1));
        let errors = vec![Problem::new("hostname", "123 is not of type 'string'")];
        let got = annotate("#cloud-config\nhostname: 123\n", &marks, &errors, &[]);
        assert_eq!(
            got,
            "#cloud-config\nhostname: 123\t\t# E1\n\n# Errors: -------------\n# E1: 123 is not of type 'string'\n\n"
        );
    }
}

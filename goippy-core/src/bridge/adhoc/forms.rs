//! The data forms (XEP-0004) the ad-hoc commands show: the shapes, so the
//! commands only say what goes in them.
//!
//! Text the console would write as a chat message (a line's status, the
//! call log, a USSD answer) becomes a multi-line field, one value per line,
//! which clients show as it is.

use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field, FieldType, Option_};

/// A form for the user to fill.
pub(super) fn form(title: &str, instructions: Option<String>, fields: Vec<Field>) -> DataForm {
    DataForm {
        type_: DataFormType::Form,
        title: Some(title.to_string()),
        instructions,
        fields,
    }
}

/// A result to read.
pub(super) fn result(title: &str, fields: Vec<Field>) -> DataForm {
    DataForm {
        type_: DataFormType::Result_,
        ..form(title, None, fields)
    }
}

/// `text`, one value per line, under `label`.
pub(super) fn text_multi(var: &str, label: &str, text: &str) -> Field {
    let mut field = Field::new(var, FieldType::TextMulti);
    field.label = Some(label.to_string());
    field.values = lines(text);
    field
}

/// Read-only text inside a form to fill (a USSD menu).
pub(super) fn fixed(label: &str, text: &str) -> Field {
    Field {
        var: None,
        type_: FieldType::Fixed,
        ..text_multi("", label, text)
    }
}

/// A one-line text field.
pub(super) fn text_single(var: &str, label: &str, required: bool) -> Field {
    let mut field = Field::new(var, FieldType::TextSingle);
    field.label = Some(label.to_string());
    field.required = required;
    field
}

/// A required choice of one of `options` (label, value), `value` chosen
/// unless the user changes it.
pub(super) fn list_single(
    var: &str,
    label: &str,
    value: Option<String>,
    options: impl IntoIterator<Item = (Option<String>, String)>,
) -> Field {
    let mut field = Field::new(var, FieldType::ListSingle);
    field.label = Some(label.to_string());
    field.required = true;
    field.values = value.into_iter().collect();
    field.options = (options.into_iter())
        .map(|(label, value)| Option_ { label, value })
        .collect();
    field
}

fn lines(text: &str) -> Vec<String> {
    let text = crate::xmpp::text::xml_safe(text);
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        vec![String::new()]
    } else {
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::minidom::Element;

    #[test]
    fn text_becomes_one_value_per_line() {
        let f = text_multi("calls", "Line 2001", "a\nb\n");
        assert_eq!(f.values, ["a", "b"]);
        let fixed = fixed("Answer", "1 Balance\n2 Data");
        assert_eq!(fixed.var, None);
        let e = Element::from(form(
            "USSD",
            None,
            vec![fixed, text_single("reply", "Reply", false)],
        ));
        let xml = String::from(&e);
        assert!(
            xml.contains("<value>1 Balance</value><value>2 Data</value>"),
            "{xml}"
        );
        assert_eq!(text_multi("x", "y", "").values, [""]);
    }
}

//! Parsing of the macro arguments: `name = "…"`, `version = N`.

use proc_macro2::TokenStream;
use syn::parse::Parser as _;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, Lit, LitStr, Token};

/// The parsed arguments of `#[workflow(…)]` and friends.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<i64>,
}

impl Args {
    pub(crate) fn parse(kind: &str, tokens: TokenStream) -> syn::Result<Self> {
        let mut args = Self::default();
        let mut version_seen = false;
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.clone();
            let Some(ident) = key.get_ident() else {
                return Err(meta.error(format!(
                    "unknown argument; `#[{kind}]` accepts `name = \"…\"` and `version = N`"
                )));
            };
            let ident = ident.to_string();
            if ident != "name" && ident != "version" {
                return Err(syn::Error::new_spanned(
                    &key,
                    format!(
                        "unknown argument `{ident}`; `#[{kind}]` accepts `name = \"…\"` and `version = N`"
                    ),
                ));
            }
            if !meta.input.peek(Token![=]) {
                return Err(syn::Error::new_spanned(
                    &key,
                    format!("expected `{ident} = …`"),
                ));
            }
            let value: Expr = meta.value()?.parse()?;
            if ident == "name" {
                if args.name.is_some() {
                    return Err(syn::Error::new_spanned(&key, "duplicate argument `name`"));
                }
                match value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(name),
                        ..
                    }) => {
                        if name.value().is_empty() {
                            return Err(syn::Error::new(
                                name.span(),
                                "the entity name must not be empty",
                            ));
                        }
                        args.name = Some(name);
                    }
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "expected a string literal, e.g. `name = \"my_entity\"`",
                        ));
                    }
                }
            } else {
                if version_seen {
                    return Err(syn::Error::new_spanned(
                        &key,
                        "duplicate argument `version`",
                    ));
                }
                version_seen = true;
                match value {
                    Expr::Lit(ExprLit {
                        lit: Lit::Int(version),
                        ..
                    }) => {
                        args.version = Some(version.base10_parse::<i64>().map_err(|_| {
                            syn::Error::new(version.span(), "the version must fit in an `i64`")
                        })?);
                    }
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "expected an integer literal, e.g. `version = 2`",
                        ));
                    }
                }
            }
            Ok(())
        });
        parser.parse2(tokens)?;
        Ok(args)
    }
}

//! The expansion of `#[workflow]`, `#[task]`, `#[agent]` and `#[tool]`.
//!
//! For a sync function the body becomes:
//!
//! ```text
//! let entity = __private::start(kind, name, version);      // span current from here on
//! if entity.records_content() { record the Serialize arguments }
//! let out: Ret = __private::call_once(move || {                 // `return`/`?` stay local
//!     if let Some(v) = __private::expected::<Ret>() { return v; } // never runs; fixes the type
//!     { original body }
//! });
//! record Err / output (autoref specialization, see `openllmetry::__private`)
//! out                                                       // guard drops: span ends
//! ```
//!
//! and for an `async fn`, `__private::begin` plus
//! `entity.instrument(async move { original body }).await`, which attaches the span's context
//! on each poll only. Anything the macro cannot handle is a `compile_error!` emitted next to the
//! unchanged item, so the user's own code still compiles and no follow-up errors appear.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens as _, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned as _;
use syn::{
    Attribute, FnArg, Ident, Item, ItemFn, LitStr, Pat, ReturnType, Signature, Type, Visibility,
    braced,
};

use crate::args::Args;

/// Which macro is expanding.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Workflow,
    Task,
    Agent,
    Tool,
}

impl Kind {
    fn attr_name(self) -> &'static str {
        match self {
            Self::Workflow => "workflow",
            Self::Task => "task",
            Self::Agent => "agent",
            Self::Tool => "tool",
        }
    }

    fn variant(self) -> TokenStream {
        match self {
            Self::Workflow => quote!(::openllmetry::__private::EntityKind::Workflow),
            Self::Task => quote!(::openllmetry::__private::EntityKind::Task),
            Self::Agent => quote!(::openllmetry::__private::EntityKind::Agent),
            Self::Tool => quote!(::openllmetry::__private::EntityKind::Tool),
        }
    }
}

/// Expands one attribute invocation.
pub(crate) fn entity(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = match Args::parse(kind.attr_name(), attr) {
        Ok(args) => args,
        Err(error) => return error_with_item(error, item),
    };
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        // A function whose body does not parse: give it back unchanged so that the compiler
        // reports the user's own syntax error, not ours.
        Err(_) if syn::parse2::<LooseFn>(item.clone()).is_ok() => return item,
        Err(_) => return error_with_item(not_a_function(kind, &item), item),
    };
    if let Some(constness) = &func.sig.constness {
        return error_with_item(
            syn::Error::new(
                constness.span,
                format!(
                    "`#[{}]` cannot be applied to a `const fn`: spans cannot be started at compile time",
                    kind.attr_name()
                ),
            ),
            item,
        );
    }
    expand_fn(kind, args, func)
}

/// A function whose body is only checked to be a `{ … }` group.
struct LooseFn;

impl Parse for LooseFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        input.parse::<Signature>()?;
        let body;
        braced!(body in input);
        body.parse::<TokenStream>()?;
        Ok(Self)
    }
}

/// The error, followed by the item unchanged: the item keeps compiling, so the user sees only
/// this error.
fn error_with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#error #item)
}

/// The error for an item that is not a function with a body, pointing at its keyword.
fn not_a_function(kind: Kind, item: &TokenStream) -> syn::Error {
    let name = kind.attr_name();
    if let Ok(method) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
        // A trait method declaration without a default body (`fn f(&self);`).
        return syn::Error::new(
            method.sig.fn_token.span,
            format!("`#[{name}]` needs a function body; put it on the implementations instead"),
        );
    }
    let message =
        format!("`#[{name}]` can only be applied to functions and methods (`fn` or `async fn`)");
    let span = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(item)) => item.struct_token.span,
        Ok(Item::Enum(item)) => item.enum_token.span,
        Ok(Item::Union(item)) => item.union_token.span,
        Ok(Item::Impl(item)) => item.impl_token.span,
        Ok(Item::Trait(item)) => item.trait_token.span,
        Ok(Item::Mod(item)) => item.mod_token.span,
        Ok(Item::Const(item)) => item.const_token.span,
        Ok(Item::Static(item)) => item.static_token.span,
        Ok(Item::Type(item)) => item.type_token.span,
        Ok(Item::Use(item)) => item.use_token.span,
        Ok(Item::ExternCrate(item)) => item.extern_token.span,
        Ok(Item::ForeignMod(item)) => item.abi.extern_token.span,
        Ok(item) => item.span(),
        Err(_) => item
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |token| token.span()),
    };
    syn::Error::new(span, message)
}

/// What the function returns, as far as recording goes.
enum Returns {
    /// `()` (written or not): nothing to record.
    Unit,
    /// `!`: the body never returns.
    Never,
    /// A type mentioning `impl Trait`: it cannot be named in a `let`, so it is not recorded.
    Opaque,
    /// Anything else: recorded (output if `Serialize`, `Err` if a `Result`).
    Typed(Box<Type>),
}

impl Returns {
    fn of(output: &ReturnType) -> Self {
        match output {
            ReturnType::Default => Self::Unit,
            ReturnType::Type(_, ty) => match &**ty {
                Type::Never(_) => Self::Never,
                Type::Tuple(tuple) if tuple.elems.is_empty() => Self::Unit,
                ty if mentions_impl(ty.to_token_stream()) => Self::Opaque,
                _ => Self::Typed(ty.clone()),
            },
        }
    }
}

/// Whether the tokens contain the `impl` keyword (an `impl Trait` anywhere in a type).
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// The name an argument is bound to, when it is a plain binding (`x`, `mut x`, `ref x`, `x @ …`).
fn binding(pat: &Pat) -> Option<&Ident> {
    match pat {
        Pat::Ident(pat) => Some(&pat.ident),
        _ => None,
    }
}

fn expand_fn(kind: Kind, args: Args, func: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    // Locals of the generated code are `mixed_site`, so they can neither clash with nor be
    // reached by the user's code.
    let local = |name: &str| Ident::new(name, Span::mixed_site());
    let entity = local("__openllmetry_entity");
    let input = local("__openllmetry_input");
    let out = local("__openllmetry_out");
    let ok = local("__openllmetry_ok");
    let err = local("__openllmetry_err");

    let name = args
        .name
        .unwrap_or_else(|| LitStr::new(&sig.ident.unraw().to_string(), sig.ident.span()));
    let version = match args.version {
        Some(version) => quote!(::core::option::Option::Some(#version)),
        None => quote!(::core::option::Option::None),
    };
    let kind_variant = kind.variant();
    let is_async = sig.asyncness.is_some();

    let record_args = sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Receiver(_) => None,
        FnArg::Typed(arg) => binding(&arg.pat).map(|ident| {
            let key = ident.unraw().to_string();
            quote! {
                #input.arg(
                    #key,
                    (&::openllmetry::__private::Wrap(&#ident)).__openllmetry_to_json(),
                );
            }
        }),
    });

    // The original body, kept in a closure (sync) or an async block so that `return` and `?`
    // return from it and not from the generated code. An `unsafe fn` body may rely on being
    // an unsafe context, which a closure body is not.
    let body = if sig.unsafety.is_some() {
        quote!({ unsafe #block })
    } else {
        quote!(#block)
    };
    let returns = Returns::of(&sig.output);
    // With a nameable return type, the body is preceded by a `return` of that type that never
    // runs (`expected` is always `None`): it fixes the closure's or async block's return type
    // before the body is checked, so the body is type-checked against the declared type exactly
    // as a function body is. A wrong tail expression or `return` value is then reported at the
    // user's expression (not at the attribute), and coercions (`Box<dyn Trait>`, `.into()`)
    // see the expected type.
    let body = match &returns {
        Returns::Typed(ty) => {
            // Located at the declared type, so "return type inferred to be `T` here" points
            // at the user's `-> T`.
            let at_type = Span::mixed_site().located_at(ty.span());
            let anchor = Ident::new("__openllmetry_anchor", at_type);
            let fix = quote_spanned! {at_type=>
                if let ::core::option::Option::Some(#anchor) =
                    ::openllmetry::__private::expected::<#ty>()
                {
                    return #anchor;
                }
            };
            quote!({ #fix #body })
        }
        Returns::Unit | Returns::Never | Returns::Opaque => body,
    };
    // The closure or async block that holds the body carries the location of the user's
    // signature (with the macro's own hygiene), so what the compiler says about it (e.g. "this
    // function should return `Result` to accept `?`") points at the user's code.
    let holder = Span::mixed_site().located_at(sig.span());
    let (start, run) = if is_async {
        let future = quote_spanned!(holder=> async move #body);
        (
            quote!(::openllmetry::__private::begin(#kind_variant, #name, #version)),
            quote!(#entity.instrument(#future).await),
        )
    } else {
        (
            quote!(::openllmetry::__private::start(#kind_variant, #name, #version)),
            quote_spanned!(holder=> ::openllmetry::__private::call_once(move || #body)),
        )
    };

    let finish = match returns {
        Returns::Never => quote!(#run),
        Returns::Unit | Returns::Opaque => quote! {
            #[allow(clippy::let_unit_value, unused_unsafe)]
            let #out = #run;
            #out
        },
        Returns::Typed(ty) => quote! {
            #[allow(unused_unsafe)]
            let #out: #ty = #run;
            {
                let (#ok, #err) =
                    (&::openllmetry::__private::Wrap(&#out)).__openllmetry_split();
                if let ::core::option::Option::Some(#err) = #err {
                    (&::openllmetry::__private::Wrap(#err)).__openllmetry_record_error(&#entity);
                }
                if let ::core::option::Option::Some(#ok) = #ok {
                    if #entity.records_content() {
                        ::openllmetry::__private::record_output(
                            &#entity,
                            (&::openllmetry::__private::Wrap(#ok)).__openllmetry_to_json(),
                        );
                    }
                }
            }
            #out
        },
    };

    let new_body = quote! {
        #[allow(unused_imports)]
        use ::openllmetry::__private::{
            RecordErrorDisplay as _, RecordErrorPlain as _, SplitPlain as _, SplitResult as _,
            ToJsonFallback as _, ToJsonSerialize as _,
        };
        let #entity = #start;
        if #entity.records_content() {
            #[allow(unused_mut)]
            let mut #input = ::openllmetry::__private::Input::new();
            #(#record_args)*
            #input.record(&#entity);
        }
        #finish
    };
    // Outer attributes go before the signature; syn keeps the body's inner attributes
    // (`#![…]`) in `attrs` too, and they must go back at the top of the body.
    let (outer, inner): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, syn::AttrStyle::Outer));
    quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #new_body
        }
    }
}

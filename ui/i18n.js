// Translations: every visible string comes from ui/i18n/<lang>.json. Elements name their key in
// data-i18n (text), data-i18n-alt, data-i18n-placeholder; scripts call t(key, vars).
"use strict";

const I18N = {
  languages: ["en", "ru", "kk"],
  lang: "en",
  strings: {},
  fallback: {},
};

async function loadLanguage(lang) {
  if (!I18N.languages.includes(lang)) lang = "en";
  const get = async (l) => (await fetch(`i18n/${l}.json`)).json();
  if (!Object.keys(I18N.fallback).length) I18N.fallback = await get("en");
  I18N.strings = lang === "en" ? I18N.fallback : await get(lang);
  I18N.lang = lang;
  document.documentElement.lang = lang;
  applyTranslations();
}

/** The string for `key` with `{name}` placeholders filled from `vars`. */
function t(key, vars = {}) {
  const s = I18N.strings[key] ?? I18N.fallback[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Whether a translation exists (finding titles fall back to the check's own English). */
function hasT(key) {
  return key in I18N.strings || key in I18N.fallback;
}

function applyTranslations(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-alt]")) el.alt = t(el.dataset.i18nAlt);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = t("app.name");
}

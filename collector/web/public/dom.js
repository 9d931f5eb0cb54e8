// @ts-check
/**
 * Building DOM without innerHTML: every text from the collector (instrument names, ids, messages) goes in as
 * a text node, so nothing it says can become markup.
 */

/** @typedef {Node | string | number | null | undefined | false | any[]} Child nested arrays are flattened; null, undefined and false are left out */

/**
 * @param {Element} el
 * @param {Record<string, unknown>} attrs
 */
function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on:') && typeof value === 'function') {
      el.addEventListener(name.slice(3), /** @type {EventListener} */ (value));
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (typeof c === 'string' || typeof c === 'number') el.append(String(c));
    else el.append(c);
  }
}

/**
 * An HTML element: h('a', { href: '#/', class: 'x', 'on:click': f }, 'text', child...).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * Replaces an element's children (like replaceChildren, but leaving out null/false and flattening arrays).
 * @param {Element} el
 * @param {...Child} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An SVG element.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function s(tag, attrs = {}, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * A state badge: coloured dot and the state's name.
 * @param {string} state
 * @param {string} label
 */
export function stateBadge(state, label) {
  return h('span', { class: `badge st-${state}`, 'data-state': state }, h('span', { class: 'dot', 'aria-hidden': 'true' }), label);
}

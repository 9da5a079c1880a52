// Sign in: the API key is checked against /users/me, then kept for this tab (api.js).
import { api, session } from "../api.js";
import { h, replace, setTitle } from "../dom.js";

// `signedIn()` runs once the key was accepted and stored.
export function signInPage(root, signedIn) {
  setTitle("Sign in");
  const error = h("p", { class: "error", role: "alert", id: "signin-error" });
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off",
                             required: true, spellcheck: "false", "aria-describedby": "signin-error" });
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) { error.textContent = "Enter your API key."; return input.focus(); }
    button.disabled = true;
    try {
      await api("GET", "/users/me", { key });
      session.signIn(key);
      signedIn();
    } catch (err) {
      error.textContent = err.status === 401
        ? "That API key was not accepted. Check it and try again." : err.message;
      input.focus();
    } finally { button.disabled = false; }
  } });
  const button = h("button", { type: "submit" }, "Sign in");
  replace(root, h("h1", {}, "Sign in to Canopy"),
          replace(form, h("label", { for: "key" }, "API key"), input,
                  h("p", { class: "hint" }, "Create one with ", h("code", {}, "make user EMAIL=you@example.com"),
                    ". It is kept in this tab only, until you sign out or close it."),
                  error, button));
  input.focus();
}

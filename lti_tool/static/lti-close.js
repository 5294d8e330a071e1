// LTI Dynamic Registration 1.0 §3.6: tell the platform window that opened us that we are done.
(window.opener || window.parent).postMessage({ subject: "org.imsglobal.lti.close" }, "*");

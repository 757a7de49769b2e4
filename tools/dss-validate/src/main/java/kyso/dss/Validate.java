// Validate is kyso's outside PAdES checker: the EU Digital Signature Service
// (DSS) validation library, run once over many PDFs, printing one JSON
// document on standard output. It validates with DSS's default validation
// policy against the trust anchors given, offline unless --online: the
// revocation data DSS would fetch is taken from the --crl and --ocsp files,
// handed to DSS as its CRL and OCSP sources.
//
// Usage:
//
//	java -jar dss-validate.jar --trust ROOT.pem [--trust more.pem]
//	    [--crl FILE.crl ...] [--ocsp FILE.der ...] [--online] FILE.pdf ...
//	java -jar dss-validate.jar --version
//
// Exit status: 0 when every file was validated (whatever the verdicts), 1
// when a file could not be (its entry has "error"), 2 on a usage error.
package kyso.dss;

import eu.europa.esig.dss.diagnostic.DiagnosticData;
import eu.europa.esig.dss.diagnostic.PDFRevisionWrapper;
import eu.europa.esig.dss.diagnostic.RevocationWrapper;
import eu.europa.esig.dss.diagnostic.SignatureWrapper;
import eu.europa.esig.dss.diagnostic.TimestampWrapper;
import eu.europa.esig.dss.model.DSSDocument;
import eu.europa.esig.dss.model.FileDocument;
import eu.europa.esig.dss.model.x509.CertificateToken;
import eu.europa.esig.dss.model.x509.revocation.Revocation;
import eu.europa.esig.dss.model.x509.revocation.crl.CRL;
import eu.europa.esig.dss.model.x509.revocation.ocsp.OCSP;
import eu.europa.esig.dss.pades.validation.PDFDocumentValidator;
import eu.europa.esig.dss.service.crl.OnlineCRLSource;
import eu.europa.esig.dss.service.ocsp.OnlineOCSPSource;
import eu.europa.esig.dss.simplereport.jaxb.XmlCertificate;
import eu.europa.esig.dss.simplereport.jaxb.XmlDetails;
import eu.europa.esig.dss.simplereport.jaxb.XmlMessage;
import eu.europa.esig.dss.simplereport.jaxb.XmlSignature;
import eu.europa.esig.dss.simplereport.jaxb.XmlSignatureScope;
import eu.europa.esig.dss.simplereport.jaxb.XmlSimpleReport;
import eu.europa.esig.dss.simplereport.jaxb.XmlTimestamp;
import eu.europa.esig.dss.simplereport.jaxb.XmlToken;
import eu.europa.esig.dss.spi.validation.CommonCertificateVerifier;
import eu.europa.esig.dss.spi.x509.CommonTrustedCertificateSource;
import eu.europa.esig.dss.spi.x509.aia.DefaultAIASource;
import eu.europa.esig.dss.spi.x509.revocation.RevocationSource;
import eu.europa.esig.dss.spi.x509.revocation.RevocationToken;
import eu.europa.esig.dss.spi.x509.revocation.crl.ExternalResourcesCRLSource;
import eu.europa.esig.dss.spi.x509.revocation.ocsp.ExternalResourcesOCSPSource;
import eu.europa.esig.dss.validation.SignedDocumentValidator;
import eu.europa.esig.dss.validation.reports.Reports;

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Date;
import java.util.List;
import java.util.Properties;

public final class Validate {
	private Validate() {
	}

	/** Options is the parsed command line. */
	private static final class Options {
		final List<String> trust = new ArrayList<>();
		final List<String> crls = new ArrayList<>();
		final List<String> ocsps = new ArrayList<>();
		final List<String> pdfs = new ArrayList<>();
		boolean online;
	}

	public static void main(String[] args) {
		// DSS logs through SLF4J; keep its INFO chatter off stderr unless
		// the caller asked for it with -Dorg.slf4j.simpleLogger.defaultLogLevel.
		if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
			System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
		}
		Options o;
		try {
			o = parse(args);
		} catch (IllegalArgumentException e) {
			System.err.println("dss-validate: " + e.getMessage());
			System.err.println("usage: dss-validate --trust ROOT.pem [--trust more.pem] [--crl FILE.crl ...] "
					+ "[--ocsp FILE.der ...] [--online] FILE.pdf [FILE2.pdf ...]");
			System.exit(2);
			return;
		}
		CommonCertificateVerifier cv;
		try {
			cv = verifier(o);
		} catch (Exception e) {
			System.err.println("dss-validate: " + e.getMessage());
			System.exit(2);
			return;
		}
		Json out = new Json();
		out.beginObject();
		out.field("dssVersion", dssVersion());
		out.field("online", o.online);
		out.name("files").beginArray();
		boolean failed = false;
		for (String pdf : o.pdfs) {
			failed |= !validate(cv, pdf, out);
		}
		out.endArray().endObject();
		PrintStream stdout = new PrintStream(System.out, false, StandardCharsets.UTF_8);
		stdout.println(out);
		stdout.flush();
		System.exit(failed ? 1 : 0);
	}

	private static Options parse(String[] args) {
		Options o = new Options();
		for (int i = 0; i < args.length; i++) {
			String a = args[i];
			switch (a) {
			case "--trust":
			case "--crl":
			case "--ocsp":
				if (i + 1 >= args.length) {
					throw new IllegalArgumentException(a + " needs a file");
				}
				String v = args[++i];
				(a.equals("--trust") ? o.trust : a.equals("--crl") ? o.crls : o.ocsps).add(v);
				break;
			case "--online":
				o.online = true;
				break;
			case "--version":
				System.out.println("dss-validate (EU DSS " + dssVersion() + ")");
				System.exit(0);
				break;
			default:
				if (a.startsWith("--")) {
					throw new IllegalArgumentException("unknown option " + a);
				}
				o.pdfs.add(a);
			}
		}
		if (o.trust.isEmpty()) {
			throw new IllegalArgumentException("at least one --trust is needed");
		}
		if (o.pdfs.isEmpty()) {
			throw new IllegalArgumentException("no PDF to validate");
		}
		return o;
	}

	/**
	 * verifier builds DSS's certificate verifier: the trust anchors, and the
	 * revocation sources DSS asks when a signature does not embed what it
	 * needs. Offline there is no AIA source and the CRL and OCSP sources
	 * answer only from the files given; --online adds DSS's HTTP sources
	 * behind them.
	 */
	private static CommonCertificateVerifier verifier(Options o) throws IOException, CertificateException {
		CommonTrustedCertificateSource trusted = new CommonTrustedCertificateSource();
		for (String p : o.trust) {
			List<CertificateToken> certs = readCertificates(p);
			if (certs.isEmpty()) {
				throw new IOException(p + ": no certificate");
			}
			certs.forEach(trusted::addCertificate);
		}
		CommonCertificateVerifier cv = new CommonCertificateVerifier(true);
		cv.setTrustedCertSources(trusted);

		RevocationSource<CRL> crl = null;
		if (!o.crls.isEmpty()) {
			crl = new ExternalResourcesCRLSource(documents(o.crls));
		}
		RevocationSource<OCSP> ocsp = null;
		if (!o.ocsps.isEmpty()) {
			ocsp = new ExternalResourcesOCSPSource(documents(o.ocsps));
		}
		if (o.online) {
			cv.setAIASource(new DefaultAIASource());
			crl = FirstOf.of(crl, new OnlineCRLSource());
			ocsp = FirstOf.of(ocsp, new OnlineOCSPSource());
		} else {
			cv.setAIASource(null);
		}
		cv.setCrlSource(crl);
		cv.setOcspSource(ocsp);
		return cv;
	}

	/**
	 * FirstOf asks the given sources in order and returns the first token
	 * found: the files first, the network after.
	 */
	@SuppressWarnings("serial")
	private static final class FirstOf<R extends Revocation> implements RevocationSource<R> {
		private final List<RevocationSource<R>> sources;

		private FirstOf(List<RevocationSource<R>> sources) {
			this.sources = sources;
		}

		static <R extends Revocation> RevocationSource<R> of(RevocationSource<R> first, RevocationSource<R> second) {
			if (first == null) {
				return second;
			}
			return new FirstOf<>(List.of(first, second));
		}

		@Override
		public RevocationToken<R> getRevocationToken(CertificateToken cert, CertificateToken issuer) {
			for (RevocationSource<R> s : sources) {
				RevocationToken<R> t = s.getRevocationToken(cert, issuer);
				if (t != null) {
					return t;
				}
			}
			return null;
		}
	}

	private static DSSDocument[] documents(List<String> paths) {
		DSSDocument[] docs = new DSSDocument[paths.size()];
		for (int i = 0; i < docs.length; i++) {
			docs[i] = new FileDocument(paths.get(i));
		}
		return docs;
	}

	/** readCertificates reads every PEM or DER certificate in a file. */
	private static List<CertificateToken> readCertificates(String path) throws IOException, CertificateException {
		CertificateFactory cf = CertificateFactory.getInstance("X.509");
		List<CertificateToken> out = new ArrayList<>();
		try (InputStream in = new FileInputStream(path)) {
			Collection<? extends Certificate> certs = cf.generateCertificates(in);
			for (Certificate c : certs) {
				out.add(new CertificateToken((X509Certificate) c));
			}
		}
		return out;
	}

	/**
	 * validate validates one PDF and appends its report to out; it returns
	 * false when DSS could not validate the file at all.
	 */
	private static boolean validate(CommonCertificateVerifier cv, String path, Json out) {
		out.beginObject();
		out.field("file", path);
		try {
			FileDocument doc = new FileDocument(path);
			SignedDocumentValidator v = SignedDocumentValidator.fromDocument(doc);
			if (!(v instanceof PDFDocumentValidator)) {
				throw new IllegalArgumentException("DSS does not read it as a PDF but with " + v.getClass().getSimpleName());
			}
			v.setCertificateVerifier(cv);
			Reports r = v.validateDocument();
			report(r, out);
			out.endObject();
			return true;
		} catch (Exception e) {
			out.field("error", e.getClass().getSimpleName() + ": " + e.getMessage());
			out.endObject();
			return false;
		}
	}

	private static void report(Reports r, Json out) {
		XmlSimpleReport sr = r.getSimpleReportJaxb();
		DiagnosticData dd = r.getDiagnosticData();
		out.field("validationTime", sr.getValidationTime());
		if (sr.getValidationPolicy() != null) {
			out.field("policy", sr.getValidationPolicy().getPolicyName());
		}
		List<XmlSignature> sigs = new ArrayList<>();
		List<XmlTimestamp> docTimestamps = new ArrayList<>();
		for (XmlToken t : sr.getSignatureOrTimestampOrEvidenceRecord()) {
			if (t instanceof XmlSignature) {
				sigs.add((XmlSignature) t);
			} else if (t instanceof XmlTimestamp) {
				docTimestamps.add((XmlTimestamp) t);
			}
		}
		out.name("signatures").beginArray();
		for (XmlSignature s : sigs) {
			out.beginObject();
			token(s, out);
			out.field("signatureFormat", s.getSignatureFormat() == null ? null : s.getSignatureFormat().toString());
			out.field("signedBy", s.getSignedBy());
			out.field("signingTime", s.getSigningTime());
			out.field("bestSignatureTime", s.getBestSignatureTime());
			SignatureWrapper w = dd.getSignatureById(s.getId());
			if (w != null) {
				pdfRevision(w.getPDFRevision(), out);
			}
			out.name("scopes").beginArray();
			for (XmlSignatureScope sc : s.getSignatureScope()) {
				out.beginObject();
				out.field("name", sc.getName());
				out.field("scope", sc.getScope() == null ? null : sc.getScope().toString());
				out.field("description", sc.getValue());
				out.endObject();
			}
			out.endArray();
			out.name("timestamps").beginArray();
			if (s.getTimestamps() != null) {
				for (XmlTimestamp t : s.getTimestamps().getTimestamp()) {
					timestamp(t, dd, out);
				}
			}
			out.endArray();
			out.endObject();
		}
		out.endArray();
		out.name("documentTimestamps").beginArray();
		for (XmlTimestamp t : docTimestamps) {
			timestamp(t, dd, out);
		}
		out.endArray();
		out.name("revocation").beginArray();
		for (RevocationWrapper rw : dd.getAllRevocationData()) {
			out.beginObject();
			out.field("id", rw.getId());
			out.field("type", rw.getRevocationType() == null ? null : rw.getRevocationType().toString());
			out.field("origin", rw.getOrigin() == null ? null : rw.getOrigin().toString());
			out.field("thisUpdate", rw.getThisUpdate());
			out.field("producedBy", rw.getSigningCertificate() == null ? null : rw.getSigningCertificate().getCommonName());
			out.endObject();
		}
		out.endArray();
	}

	private static void timestamp(XmlTimestamp t, DiagnosticData dd, Json out) {
		out.beginObject();
		token(t, out);
		out.field("productionTime", t.getProductionTime());
		out.field("producedBy", t.getProducedBy());
		TimestampWrapper w = dd.getTimestampById(t.getId());
		if (w != null) {
			out.field("type", w.getType() == null ? null : w.getType().toString());
			pdfRevision(w.getPDFRevision(), out);
		}
		out.endObject();
	}

	/** token writes what signatures and time-stamps share. */
	private static void token(XmlToken t, Json out) {
		out.field("id", t.getId());
		out.field("indication", t.getIndication() == null ? null : t.getIndication().toString());
		out.field("subIndication", t.getSubIndication() == null ? null : t.getSubIndication().toString());
		XmlDetails d = t.getAdESValidationDetails();
		messages("errors", d == null ? null : d.getError(), out);
		messages("warnings", d == null ? null : d.getWarning(), out);
		messages("infos", d == null ? null : d.getInfo(), out);
		out.name("certificateChain").beginArray();
		if (t.getCertificateChain() != null) {
			for (XmlCertificate c : t.getCertificateChain().getCertificate()) {
				out.beginObject();
				out.field("id", c.getId());
				out.field("name", c.getQualifiedName());
				out.field("trusted", c.isTrusted());
				out.endObject();
			}
		}
		out.endArray();
	}

	private static void pdfRevision(PDFRevisionWrapper rev, Json out) {
		out.name("fieldNames").beginArray();
		if (rev != null) {
			for (String n : rev.getSignatureFieldNames()) {
				out.value(n);
			}
		}
		out.endArray();
		if (rev != null) {
			out.field("subFilter", rev.getSubFilter());
			if (rev.getDocMDPPermissions() != null) {
				out.field("docMDP", rev.getDocMDPPermissions().toString());
			}
		}
	}

	private static void messages(String name, List<XmlMessage> ms, Json out) {
		out.name(name).beginArray();
		if (ms != null) {
			for (XmlMessage m : ms) {
				out.beginObject();
				out.field("key", m.getKey());
				out.field("text", m.getValue());
				out.endObject();
			}
		}
		out.endArray();
	}

	private static String dssVersion() {
		Properties p = new Properties();
		try (InputStream in = Validate.class.getResourceAsStream("/kyso-dss-validate.properties")) {
			if (in != null) {
				p.load(in);
			}
		} catch (IOException e) {
			// The version is informative only.
		}
		return p.getProperty("dss.version", "unknown");
	}

	/** Json writes one JSON document; commas are placed as values come. */
	private static final class Json {
		private final StringBuilder b = new StringBuilder();
		private boolean comma;

		Json beginObject() {
			sep();
			b.append('{');
			comma = false;
			return this;
		}

		Json endObject() {
			b.append('}');
			comma = true;
			return this;
		}

		Json beginArray() {
			sep();
			b.append('[');
			comma = false;
			return this;
		}

		Json endArray() {
			b.append(']');
			comma = true;
			return this;
		}

		Json name(String n) {
			sep();
			str(n);
			b.append(':');
			comma = false;
			return this;
		}

		Json value(String v) {
			sep();
			if (v == null) {
				b.append("null");
			} else {
				str(v);
			}
			comma = true;
			return this;
		}

		void field(String n, String v) {
			name(n).value(v);
		}

		void field(String n, boolean v) {
			name(n);
			b.append(v);
			comma = true;
		}

		void field(String n, Date d) {
			name(n).value(d == null ? null : d.toInstant().toString());
		}

		private void sep() {
			if (comma) {
				b.append(',');
			}
		}

		private void str(String s) {
			b.append('"');
			for (int i = 0; i < s.length(); i++) {
				char c = s.charAt(i);
				switch (c) {
				case '"':
					b.append("\\\"");
					break;
				case '\\':
					b.append("\\\\");
					break;
				case '\n':
					b.append("\\n");
					break;
				case '\r':
					b.append("\\r");
					break;
				case '\t':
					b.append("\\t");
					break;
				default:
					if (c < 0x20) {
						b.append(String.format("\\u%04x", (int) c));
					} else {
						b.append(c);
					}
				}
			}
			b.append('"');
		}

		@Override
		public String toString() {
			return b.toString();
		}
	}
}
